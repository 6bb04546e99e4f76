"""The campaign's response models, one module per subject (documentation of the answers)."""
