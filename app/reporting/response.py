"""The answer of every report endpoint (capaian pendataan, keragaan koperasi, UMKM, agregat, the
LKjIP table): one document, written as the `format` asks. The domain builds the document and
gives its two layouts (its `export.py`); which one runs, and how each is served, is decided here
once, so the five endpoints cannot drift apart in a header, a file name or a refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import Response

from app.infra.replicas import FRESHNESS_HEADERS
from app.reporting.reports import CSV_FORMATS, CsvCells, csv_cells, csv_response, json_response
from app.reporting.xlsx import DOWNLOADS, Table
from app.reporting.xlsx import response as workbook_response

# A CSV layout: the table's header and rows for one of the two CSVs (app.reporting.reports.CsvCells).
CsvLayout = Callable[[dict[str, Any], CsvCells], tuple[list[str], list[list[Any]]]]
# A workbook layout: the same table for `format=xlsx`.
XlsxLayout = Callable[[dict[str, Any]], Table]

# The 200 answer of a report endpoint besides its JSON (the downloads), with the freshness
# headers every report carries (app.infra.replicas): `responses=REPORT_RESPONSES` on its route.
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {**DOWNLOADS, "headers": FRESHNESS_HEADERS}}


async def report_response(fmt: str, name: str, doc: dict[str, Any], *, csv: CsvLayout, xlsx: XlsxLayout) -> Response:
    """`doc` as `fmt` asks: `csv` or `csv-data` a download `<name>.csv` / `<name>-data.csv`
    (app.reporting.reports.csv_response), `xlsx` a workbook `<name>.xlsx` (built one at a time,
    429 when busy: app.reporting.xlsx.response), anything else (`json`, the default) the
    document itself. Only the layout asked for runs."""
    if fmt in CSV_FORMATS:
        cells = csv_cells(fmt)
        header, rows = csv(doc, cells)
        return csv_response(name, header, rows, cells)
    if fmt == "xlsx":
        return await workbook_response(f"{name}.xlsx", xlsx(doc))
    return json_response(doc)
