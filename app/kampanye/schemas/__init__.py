"""One module per subject of the campaign (docs/kampanye.md)."""
