"""The pendataan campaign while it runs (issue 31, docs/kampanye.md): progress over time
against the target and its deadline (kemajuan), the age of the verification backlog
(antrian_umur), enumerators' work and quality (kinerja) and the records on a map (titik).

One module per subject in `router/`, `service/` and `queries/`; a record's day is its
provinsi's local day (app.record.zona)."""
