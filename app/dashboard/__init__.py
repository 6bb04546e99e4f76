"""The dinas dashboard: one server-rendered page that reads the capaian API with the user's key."""
