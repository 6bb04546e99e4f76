"""The campaign's tables as downloads (CSV for people and for programs, xlsx), one module per
subject, answered through app.reporting.response.report_response."""
