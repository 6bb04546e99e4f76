"""Basis Data Tunggal KUMKM registry service."""
