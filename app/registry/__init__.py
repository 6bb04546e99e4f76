"""Basis Data Tunggal: one entity per usaha and koperasi across rounds (docs/registry.md)."""
