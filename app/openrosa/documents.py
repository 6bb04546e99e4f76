"""OpenRosa 1.0 documents: the form list, the manifest and the response a phone shows, and the
reading of a submitted instance into the record's content as the JSON API takes it.

An instance is read by local names only: ODK Collect sends it without a namespace, Enketo in
the XForms namespace (and older forms put `meta` in the `orx` one). Values go to the record's
model as text except where the form's type says otherwise (integers, money, yes/no, a GPS
point), and only when they have that shape: anything else is passed on as it came, so the
model refuses it with the JSON API's own message for that field."""
from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError, fromstring
from xml.sax.saxutils import escape

from app.core.errors import INVALID

OPENROSA_VERSION = "1.0"
XML_MEDIA = "text/xml; charset=utf-8"

# Questions of the form whose answers are whole numbers (counts, years) and whole rupiah.
# Money is a text question with a numeric keyboard: an XForm `integer` is 32 bits on the phone
# (up to about Rp2,1 M), `decimal` a float; whole rupiah up to 10^18 need text.
INTEGERS = frozenset({
    "tenaga_kerja_laki_laki", "tenaga_kerja_perempuan", "tahun_rat_terakhir",
    "anggota_laki_laki", "anggota_perempuan", "manajer_laki_laki", "manajer_perempuan",
    "karyawan_laki_laki", "karyawan_perempuan",
    "modal_usaha", "hasil_penjualan_tahunan", "aset", "modal_sendiri", "modal_luar", "volume_usaha", "shu",
})
YES_NO = frozenset({"platform_digital", "izin_usaha", "aktif", "izin_usaha_simpan_pinjam"})
# Questions that only steer the form (the cascade down to the desa) and meta the phone adds.
FORM_ONLY = frozenset({"kabkota", "kecamatan"})
# The sections that hold the content; only the one `jenis` chose is read (the other is not
# relevant, and Enketo may still send it empty).
SECTIONS = ("umkm", "koperasi")
_INT = re.compile(r"^-?[0-9]{1,19}$")
_UUID_PREFIX = "uuid:"


@dataclass
class Instance:
    """A submitted instance: its content for app.core.record, its instanceID and, for an
    edit, the instanceID it replaces."""
    form_id: str | None
    version: str | None
    content: dict
    instance_id: str
    deprecated_id: str | None


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
    return INVALID("xml_submission_file is not a well-formed XML instance",
                   errors=[{"field": "xml_submission_file", "type": "xml", "message": reason}])


def parse_xml(body: bytes) -> Element:
    """Hostile XML refused before it is parsed: an instance is UTF-8 (what phones send) with
    no DTD, so no entity can be declared (no billion laughs, no external entities). Decoding
    first means the check sees the text the parser sees, whatever encoding the document
    claims. ElementTree's C parser then does the rest; defusedxml's pure-Python parser made
    the parse a tenth of a submission's CPU."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_xml("the instance must be UTF-8 encoded") from None
    if "<!DOCTYPE" in text or "\x00" in text:
        raise _not_xml("a document type declaration (DTD) or NUL character is not allowed in an instance")
    try:
        return fromstring(text)
    except ParseError as exc:
        raise _not_xml(f"not well-formed XML: {exc}") from None


def parse_instance(body: bytes) -> Instance:
    """The instance of a submission; a 422 naming what is missing when it is not one."""
    root = parse_xml(body)
    content: dict = {}
    meta: dict[str, str] = {}
    sections: dict[str, Element] = {}
    for el in root:
        name = _local(el.tag)
        if name == "meta":
            meta.update({_local(m.tag): _text(m) for m in el})
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
        raise INVALID("the instance has no meta/instanceID",
                      errors=[{"field": "meta/instanceID", "type": "missing",
                               "message": "required: the phone's id of this instance (uuid:...)"}])
    content["submission_id"] = instance_id.removeprefix(_UUID_PREFIX)
    deprecated = meta.get("deprecatedID") or None
    return Instance(form_id=root.get("id"), version=root.get("version"), content=content,
                    instance_id=content["submission_id"],
                    deprecated_id=deprecated.removeprefix(_UUID_PREFIX) if deprecated else None)


# ---------------------------------------------------------------- documents sent

def form_list(form_id: str, name: str, version: str, hash_: str, download_url: str, manifest_url: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xforms xmlns="http://openrosa.org/xforms/xformsList">'
        f"<xform><formID>{escape(form_id)}</formID><name>{escape(name)}</name>"
        f"<version>{escape(version)}</version><hash>{escape(hash_)}</hash>"
        f"<downloadUrl>{escape(download_url)}</downloadUrl>"
        f"<manifestUrl>{escape(manifest_url)}</manifestUrl></xform>"
        "</xforms>"
    ).encode()


def manifest(files: list[tuple[str, str, str]]) -> bytes:
    """(filename, hash, download URL) per media file."""
    items = "".join(f"<mediaFile><filename>{escape(f)}</filename><hash>{escape(h)}</hash>"
                    f"<downloadUrl>{escape(u)}</downloadUrl></mediaFile>" for f, h, u in files)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<manifest xmlns="http://openrosa.org/xforms/xformsManifest">{items}</manifest>').encode()


def response(message: str, *, success: bool) -> bytes:
    """The OpenRosaResponse a phone shows its user; `nature` as ODK Central sends it."""
    nature = "submit_success" if success else "error"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
            f'<message nature="{nature}">{escape(message)}</message></OpenRosaResponse>').encode()
