"""The PL-KUMKM questionnaire as an XLSForm, and its XForm.

The readable source is three CSV sheets beside this module (`form/survey.csv`,
`form/choices.csv`, `form/settings.csv`): they diff and review like code. `form/pl-kumkm.xlsx`
is built from them (`kumkm openrosa xlsform` rewrites it; a test fails when it differs): the
file a dinas opens in a spreadsheet, or uploads to KoboToolbox or ODK Central as it is. The
service converts that very file with pyxform, the converter behind ODK and Kobo, once per
process, so what phones get is what those tools would make of it.

Constraints mirror app.record's validation where XPath can say it (the phone refuses the
answer before it is sent); the service validates every submission again with the same code as
the JSON API, so a form edited elsewhere cannot let anything through."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import functools
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

FORM_DIR = Path(__file__).resolve().parent / "form"
XLSX = FORM_DIR / "pl-kumkm.xlsx"
SHEETS = ("survey", "choices", "settings")
# The file of the cascading wilayah selects (select_one_from_file in survey.csv); its rows are
# made per key from the wilayah table (service.media_csv).
MEDIA_FILE = "wilayah.csv"
# The follow-up visit form (docs/pemutakhiran.md): its sheets in form/pemutakhiran/, an
# `entities` sheet among them (pyxform writes the ODK Entities declaration: list `usaha`,
# an update of the entity picked, its baseVersion read from the list). Its second media file
# is that list, made per key from the registry (app.openrosa.entitas).
FOLLOW_UP_DIR = FORM_DIR / "pemutakhiran"
FOLLOW_UP_XLSX = FOLLOW_UP_DIR / "pemutakhiran-kumkm.xlsx"
FOLLOW_UP_SHEETS = ("survey", "choices", "settings", "entities")
ENTITY_FILE = "usaha.csv"
ENTITY_LIST = "usaha"
# Fixed document dates, so rebuilding the workbook from unchanged sheets changes nothing in it.
_EPOCH = dt.datetime(2026, 1, 1)


def read_sheets(directory: Path = FORM_DIR, names: tuple[str, ...] = SHEETS) -> dict[str, list[list[str]]]:
    """The CSV sheets as rows of cells, header first."""
    out = {}
    for sheet in names:
        with open(directory / f"{sheet}.csv", newline="", encoding="utf-8") as f:
            out[sheet] = [row for row in csv.reader(f)]
    return out


def write_xlsx(path: Path = XLSX, sheets: dict[str, list[list[str]]] | None = None, names: tuple[str, ...] = SHEETS) -> None:
    """The workbook from the CSV sheets; empty cells stay empty (pyxform reads an empty
    string as an answer)."""
    from openpyxl import Workbook

    sheets = sheets or read_sheets(names=names)
    wb = Workbook()
    wb.remove(wb.active)
    for name in names:
        ws = wb.create_sheet(name)
        for r, row in enumerate(sheets[name], 1):
            for c, value in enumerate(row, 1):
                if value != "":
                    ws.cell(row=r, column=c, value=value)
    wb.properties.creator = "kumkm"
    wb.properties.created = wb.properties.modified = _EPOCH
    buf = io.BytesIO()
    wb.save(buf)
    # The zip entries carry the time of writing: fix it, so that unchanged sheets give the same
    # bytes and the committed workbook changes only when the form does.
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_EPOCH.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` at save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            dst.writestr(fixed, data)
    Path(path).write_bytes(out.getvalue())


def xlsx_sheets(path: Path = XLSX, names: tuple[str, ...] = SHEETS) -> dict[str, list[list[str]]]:
    """The cells of a workbook as read_sheets gives them (for the test that it is current)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    out = {}
    for name in names:
        rows = [["" if v is None else str(v) for v in row] for row in wb[name].iter_rows(values_only=True)]
        width = len(rows[0]) if rows else 0
        out[name] = [row + [""] * (width - len(row)) for row in rows]
    return out


@dataclass(frozen=True)
class Form:
    form_id: str
    version: str
    title: str
    xml: bytes
    hash: str  # "md5:<hex>", as the OpenRosa form list and manifest give it
    root: str  # the instance's root element (pyxform's `data`)
    entities: bool = False  # declares an ODK entity (the follow-up form's update of `usaha`)


def convert(path: Path = XLSX, *, validate: bool = False) -> Form:
    """The XForm of the workbook. validate=True runs ODK Validate (Java) as pyxform does."""
    from pyxform.xls2xform import convert as xls2xform

    warnings: list[str] = []
    result = xls2xform(xlsform=str(path), warnings=warnings, validate=validate, file_type=".xlsx")
    if warnings:
        raise ValueError(f"pyxform warnings for {path.name}: {warnings}")
    xml = result.xform.encode("utf-8")
    settings = dict(zip(*read_settings(path), strict=False))
    return Form(
        form_id=settings["form_id"],
        version=settings["version"],
        title=settings["form_title"],
        xml=xml,
        hash="md5:" + hashlib.md5(xml).hexdigest(),
        root="data",
        entities=b"entities:entities-version" in xml,
    )


def read_settings(path: Path = XLSX) -> tuple[list[str], list[str]]:
    header, values = xlsx_sheets(path)["settings"][:2]
    return header, values


@functools.lru_cache(maxsize=1)
def form() -> Form:
    """The form phones get, converted once per process."""
    return convert()


@functools.lru_cache(maxsize=1)
def follow_up_form() -> Form:
    """The follow-up visit form (pemutakhiran_kumkm), converted once per process."""
    return convert(FOLLOW_UP_XLSX)


def write_follow_up_xlsx(path: Path = FOLLOW_UP_XLSX) -> None:
    write_xlsx(path, read_sheets(FOLLOW_UP_DIR, FOLLOW_UP_SHEETS), FOLLOW_UP_SHEETS)


async def loaded_forms() -> tuple[Form, Form]:
    """(the census form, the follow-up form) for a route, converted in a thread the first time."""
    if not follow_up_form.cache_info().currsize:
        await asyncio.to_thread(follow_up_form)
    return await loaded_form(), follow_up_form()


async def loaded_form() -> Form:
    """form() for a route: converted in a thread the first time. pyxform's import and the
    conversion take about half a second of CPU, which on the event loop would hold every other
    request of the process (the first submission after a start held /healthz 0.5 s)."""
    if form.cache_info().currsize:
        return form()
    return await asyncio.to_thread(form)
