"""The pendataan campaign while it runs (issue 31; docs/kampanye.md): progress over time,
backlog age, enumerators and their quality, records on a map. One module per subject in
router/, schemas/, service/, queries/ and export/."""
