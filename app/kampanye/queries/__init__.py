"""The campaign's SQL, one module per subject (kemajuan, antrian_umur, kinerja, titik)."""
