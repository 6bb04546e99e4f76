"""The campaign's rules, one module per subject (kemajuan, antrian_umur, kinerja, titik).
Every function that touches the database takes its caller's connection."""
