"""Metrics, structured logs and request ids: what operators see without reading code."""
