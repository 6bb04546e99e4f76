"""The record: its content model (model.py), the rules the service derives (rules.py), the
path from input to a stored row and back (prepare.py, read.py), the stored columns and the
walidata line (columns.py), and its flat form for CSV/Parquet (flat.py). See docs/code.md,
"Adding a field to the record"."""

from app.record.columns import LINE_COLUMNS, ROW_COLUMNS, record_line

__all__ = ["LINE_COLUMNS", "ROW_COLUMNS", "record_line"]
