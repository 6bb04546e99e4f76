"""OpenRosa 1.0 documents: the form list, the manifest and the response a phone shows, and the
reading of a submitted instance into the record's content as the JSON API takes it.

An instance is read by local names only: ODK Collect sends it without a namespace, Enketo in
the XForms namespace (and older forms put `meta` in the `orx` one). Values go to the record's
model as text except where the form's type says otherwise (integers, money, yes/no, a GPS
point), and only when they have that shape: anything else is passed on as it came, so the
model refuses it with the JSON API's own message for that field."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from app.core.errors import INVALID, TOO_LARGE

OPENROSA_VERSION = "1.0"
XML_MEDIA = "text/xml; charset=utf-8"

# Questions of the form whose answers are whole numbers (counts, years) and whole rupiah.
# Money is a text question with a numeric keyboard: an XForm `integer` is 32 bits on the phone
# (up to about Rp2,1 M), `decimal` a float; whole rupiah up to 10^18 need text.
INTEGERS = frozenset(
    {
        "tenaga_kerja_laki_laki",
        "tenaga_kerja_perempuan",
        "tahun_rat_terakhir",
        "anggota_laki_laki",
        "anggota_perempuan",
        "manajer_laki_laki",
        "manajer_perempuan",
        "karyawan_laki_laki",
        "karyawan_perempuan",
        "modal_usaha",
        "hasil_penjualan_tahunan",
        "aset",
        "modal_sendiri",
        "modal_luar",
        "volume_usaha",
        "shu",
    }
)
YES_NO = frozenset({"platform_digital", "izin_usaha", "aktif", "izin_usaha_simpan_pinjam"})
# Questions that only steer the form (the cascade down to the desa) and meta the phone adds.
FORM_ONLY = frozenset({"kabkota", "kecamatan"})
# The sections that hold the content; only the one `jenis` chose is read (the other is not
# relevant, and Enketo may still send it empty).
SECTIONS = ("umkm", "koperasi")
_INT = re.compile(r"^-?[0-9]{1,19}$")
_UUID_PREFIX = "uuid:"

# Bounds on an instance, far above what the form makes (an instance is 1-2 KB, about 40
# elements, 3 deep, with 2 attributes and up to 6 namespace declarations) and far below what
# costs a parser time. The depth, element and attribute caps are counted while the parser
# reads, so a hostile document is refused after at most one feed past the cap, never after it
# is all built. The size cap bounds what is left: the cost of one start tag (its attributes
# arrive together once the tag is read; 7 MB of them held a thread for 0.3 s).
MAX_INSTANCE_BYTES = 256 * 1024
MAX_DEPTH = 16
MAX_ELEMENTS = 1000
MAX_ATTRIBUTES = 100  # attributes and namespace declarations, in the whole instance
_FEED_BYTES = 16 * 1024  # bytes fed to the parser between two looks at the counts

Element = Any  # an lxml element (lxml ships no type stubs)


@dataclass
class Instance:
    """A submitted instance: its content for app.record, its instanceID and, for an
    edit, the instanceID it replaces."""

    form_id: str | None
    version: str | None
    content: dict
    instance_id: str
    deprecated_id: str | None
    # meta/entity's attributes (ODK XForms Entities: dataset, id, update, baseVersion, ...) when
    # the instance declares an entity: the follow-up form's update of the entity picked
    entity: dict[str, str] | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: Element) -> str:
    return (el.text or "").strip()


def _value(name: str, raw: str):
    if name in INTEGERS and _INT.match(raw):
        return int(raw)
    if name in YES_NO and raw in ("ya", "tidak"):
        return raw == "ya"
    if name == "lokasi":
        parts = raw.split()
        try:
            return {"lat": float(parts[0]), "lon": float(parts[1])}
        except (IndexError, ValueError):
            return raw
    return raw


def _not_xml(reason: str):
    message = f"xml_submission_file {reason}"
    return INVALID(message, errors=[{"field": "xml_submission_file", "type": "xml", "message": message}])


def _over(reason: str):
    message = f"xml_submission_file {reason}"
    return INVALID(message, errors=[{"field": "xml_submission_file", "type": "xml_bounds", "message": message}])


def instance_too_large():
    message = f"xml_submission_file paling besar {MAX_INSTANCE_BYTES} byte"
    return TOO_LARGE(message, errors=[{"field": "xml_submission_file", "type": "too_large", "message": message}])


class _Counts:
    """Depth, elements and attributes seen so far, checked as the parser's events arrive."""

    def __init__(self) -> None:
        self.depth = self.elements = self.attributes = 0

    def take(self, events) -> None:
        for event, item in events:
            if event == "start":
                self.depth += 1
                self.elements += 1
                self.attributes += len(item.attrib)
                if self.depth > MAX_DEPTH:
                    raise _over(f"bersarang lebih dari {MAX_DEPTH} tingkat elemen")
                if self.elements > MAX_ELEMENTS:
                    raise _over(f"memuat lebih dari {MAX_ELEMENTS} elemen")
            elif event == "end":
                self.depth -= 1
            else:  # start-ns: a namespace declaration, an attribute too
                self.attributes += 1
            if self.attributes > MAX_ATTRIBUTES:
                raise _over(f"memuat lebih dari {MAX_ATTRIBUTES} atribut")


def parse_xml(body: bytes) -> Element:
    """Hostile XML refused before it is parsed: an instance is UTF-8 (what phones send) with
    no DTD, so no entity can be declared (no billion laughs, no external entities), and at most
    MAX_INSTANCE_BYTES. Decoding first means the check sees the text the parser sees: the
    parser is told UTF-8, whatever encoding the document claims. Then lxml (libxml2, C, with
    no network, no DTD loading and no entity substitution) reads it in pieces, the caps on
    depth, elements and attributes counted between pieces (the pieces also keep each hold of
    the GIL short). It runs outside the event loop (app.openrosa.service.read_submission)."""
    if len(body) > MAX_INSTANCE_BYTES:
        raise instance_too_large()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_xml("harus teks UTF-8 (pengodean lain tidak diterima)") from None
    if "<!DOCTYPE" in text or "\x00" in text:
        raise _not_xml("tidak boleh memuat deklarasi tipe dokumen (DTD) atau karakter NUL")
    if len(body) <= _FEED_BYTES:
        return _parse_small(body)
    parser = etree.XMLPullParser(
        events=("start", "end", "start-ns"),
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        collect_ids=False,
        remove_comments=True,
        remove_pis=True,
    )
    counts = _Counts()
    try:
        for at in range(0, len(body), _FEED_BYTES):
            parser.feed(body[at : at + _FEED_BYTES])
            counts.take(parser.read_events())
        root = parser.close()
        counts.take(parser.read_events())
    except etree.XMLSyntaxError as exc:
        # what was read before the error may be past a cap (libxml2 stops at 256 levels
        # by itself, inside a piece): that is the better answer
        counts.take(parser.read_events())
        # libxml2's own words, marked as not the service's (docs/decisions.md); they can
        # quote the document's tag names, so they are cut
        raise _not_xml(f"bukan XML yang sah (libxml2: {str(exc.msg).strip()[:200]})") from None
    return root


# One hardened parser per thread (lxml's parsers are not to be shared between threads).
_parsers = threading.local()


def _parse_small(body: bytes) -> Element:
    """A body of one piece (every real instance: 1-2 KB) is parsed at once, then its caps are
    counted on the tree: its size bounds the work either way, and this is half the cost of the
    pull parser's events (a submission's parse is on the hot path of every phone)."""
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(
            encoding="utf-8",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            collect_ids=False,
            remove_comments=True,
            remove_pis=True,
        )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise _not_xml(f"bukan XML yang sah (libxml2: {str(exc.msg).strip()[:200]})") from None
    elements = attributes = 0
    for el in root.iter():
        elements += 1
        attributes += len(el.attrib)
    if elements > MAX_ELEMENTS:
        raise _over(f"memuat lebih dari {MAX_ELEMENTS} elemen")
    # namespace declarations count as attributes, as in the pull parser: each is spelt xmlns
    attributes += body.count(b"xmlns")
    if attributes > MAX_ATTRIBUTES:
        raise _over(f"memuat lebih dari {MAX_ATTRIBUTES} atribut")
    if _TOO_DEEP(root):
        raise _over(f"bersarang lebih dari {MAX_DEPTH} tingkat elemen")
    return root


# an element below MAX_DEPTH levels, looked for by libxml2 itself
_TOO_DEEP = etree.XPath("boolean(/*" + "/*" * MAX_DEPTH + ")")


def parse_instance(body: bytes) -> Instance:
    """The instance of a submission; a 422 naming what is missing when it is not one."""
    root = parse_xml(body)
    content: dict = {}
    meta: dict[str, str] = {}
    entity: dict[str, str] | None = None
    sections: dict[str, Element] = {}
    for el in root:
        name = _local(el.tag)
        if name == "meta":
            for m in el:
                if _local(m.tag) == "entity":
                    entity = {_local(k): v for k, v in m.attrib.items()}
                else:
                    meta[_local(m.tag)] = _text(m)
        elif name in SECTIONS:
            sections[name] = el
        elif name == "wilayah":
            for w in el:
                wname = _local(w.tag)
                if wname not in FORM_ONLY and _text(w):
                    content[wname] = _value(wname, _text(w))
        elif _text(el) or len(el):
            content[name] = _value(name, _text(el)) if not len(el) else _text(el)
    section = sections.get(content.get("jenis", ""))
    if section is not None:
        for el in section:
            name, raw = _local(el.tag), _text(el)
            if raw:
                content[name] = _value(name, raw)
    instance_id = meta.get("instanceID", "")
    if not instance_id:
        message = "meta/instanceID wajib diisi: id instance ini yang dibuat ponsel (uuid:...)"
        raise INVALID(message, errors=[{"field": "meta/instanceID", "type": "missing", "message": message}])
    content["submission_id"] = instance_id.removeprefix(_UUID_PREFIX)
    deprecated = meta.get("deprecatedID") or None
    return Instance(
        form_id=root.get("id"),
        version=root.get("version"),
        content=content,
        instance_id=content["submission_id"],
        deprecated_id=deprecated.removeprefix(_UUID_PREFIX) if deprecated else None,
        entity=entity,
    )


# ---------------------------------------------------------------- documents sent


def form_list(forms: list[tuple[str, str, str, str, str, str]]) -> bytes:
    """(formID, name, version, hash, download URL, manifest URL) per form."""
    items = "".join(
        f"<xform><formID>{escape(form_id)}</formID><name>{escape(name)}</name>"
        f"<version>{escape(version)}</version><hash>{escape(hash_)}</hash>"
        f"<downloadUrl>{escape(download_url)}</downloadUrl>"
        f"<manifestUrl>{escape(manifest_url)}</manifestUrl></xform>"
        for form_id, name, version, hash_, download_url, manifest_url in forms
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="http://openrosa.org/xforms/xformsList">{items}</xforms>'.encode()


def manifest(files: list[tuple[str, str, str]]) -> bytes:
    """(filename, hash, download URL) per media file."""
    items = "".join(
        f"<mediaFile><filename>{escape(f)}</filename><hash>{escape(h)}</hash><downloadUrl>{escape(u)}</downloadUrl></mediaFile>"
        for f, h, u in files
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="http://openrosa.org/xforms/xformsManifest">{items}</manifest>'
    ).encode()


def response(message: str, *, success: bool) -> bytes:
    """The OpenRosaResponse a phone shows its user; `nature` as ODK Central sends it."""
    nature = "submit_success" if success else "error"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
        f'<message nature="{nature}">{escape(message)}</message></OpenRosaResponse>'
    ).encode()
