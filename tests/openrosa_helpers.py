"""Instances of the PL-KUMKM form as phones send them, made from the JSON API's record shape
(tests/factories.py), so a test can post the same content both ways.

`collect`: ODK Collect's shape (no namespace, the section `jenis` did not choose left out, as
non-relevant groups are). `enketo`: Enketo's (the XForms namespace with the jr/orx
declarations, `meta` in the orx namespace, the other section sent empty)."""
from __future__ import annotations

from xml.sax.saxutils import escape

from app.openrosa.documents import INTEGERS, YES_NO

FORM_ID = "pl_kumkm"
TOP = ("captured_at", "periode", "enumerator_id", "jenis")
UMKM = ("nama_usaha", "nama_pemilik", "nik_pemilik", "nib", "alamat", "telepon", "kbli", "status_tempat",
        "modal_usaha", "hasil_penjualan_tahunan", "aset", "tenaga_kerja_laki_laki", "tenaga_kerja_perempuan",
        "platform_digital", "izin_usaha")
KOPERASI = ("nama_koperasi", "nik_koperasi", "nomor_badan_hukum", "jenis_koperasi", "kewenangan", "aktif",
            "tahun_rat_terakhir", "anggota_laki_laki", "anggota_perempuan", "manajer_laki_laki",
            "manajer_perempuan", "karyawan_laki_laki", "karyawan_perempuan", "modal_sendiri", "modal_luar",
            "volume_usaha", "aset", "shu", "izin_usaha_simpan_pinjam", "kesehatan", "alamat", "telepon")


def _answer(name: str, value) -> str:
    if value is None:
        return ""
    if name in YES_NO and isinstance(value, bool):
        return "ya" if value else "tidak"
    if name in INTEGERS and isinstance(value, int):
        return str(value)
    return escape(str(value))


def _elements(names, record: dict, prefix: str = "") -> str:
    return "".join(f"<{prefix}{n}>{_answer(n, record.get(n))}</{prefix}{n}>" for n in names)


def instance(record: dict, *, style: str = "collect", instance_id: str | None = None,
             deprecated_id: str | None = None, version: str = "2026112301", extra: str = "") -> bytes:
    """The instance XML for `record` (a tests.factories record); `instance_id` defaults to its
    submission_id, `deprecated_id` makes it an edit of that instance."""
    iid = instance_id or record["submission_id"]
    kode = record.get("kode_wilayah", "")
    parts = kode.split(".")
    kabkota, kecamatan = ".".join(parts[:2]), ".".join(parts[:3])
    lokasi = record.get("lokasi")
    gps = f"{lokasi['lat']} {lokasi['lon']} 12.0 4.5" if lokasi else ""
    wilayah = (f"<wilayah><kabkota>{kabkota}</kabkota><kecamatan>{kecamatan}</kecamatan>"
               f"<kode_wilayah>{kode}</kode_wilayah><lokasi>{gps}</lokasi></wilayah>")
    jenis = record.get("jenis")
    umkm = f"<umkm>{_elements(UMKM, record) if jenis == 'umkm' else ''}</umkm>"
    kop = f"<koperasi>{_elements(KOPERASI, record) if jenis == 'koperasi' else ''}</koperasi>"
    name = record.get("nama_usaha") or record.get("nama_koperasi") or ""
    if style == "collect":
        sections = umkm if jenis == "umkm" else kop if jenis == "koperasi" else ""
        dep = f"<deprecatedID>uuid:{deprecated_id}</deprecatedID>" if deprecated_id else ""
        meta = f"<meta><instanceID>uuid:{iid}</instanceID>{dep}<instanceName>{escape(name)}</instanceName></meta>"
        root = f'<data id="{FORM_ID}" version="{version}">'
        return (f"<?xml version='1.0' ?>{root}{_elements(TOP, record)}{wilayah}{sections}{extra}{meta}</data>").encode()
    dep = f"<orx:deprecatedID>uuid:{deprecated_id}</orx:deprecatedID>" if deprecated_id else ""
    meta = (f"<orx:meta><orx:instanceID>uuid:{iid}</orx:instanceID>{dep}"
            f"<orx:instanceName>{escape(name)}</orx:instanceName></orx:meta>")
    root = (f'<data xmlns="http://www.w3.org/2002/xforms" xmlns:ev="http://www.w3.org/2001/xml-events" '
            f'xmlns:jr="http://openrosa.org/javarosa" xmlns:odk="http://www.opendatakit.org/xforms" '
            f'xmlns:orx="http://openrosa.org/xforms" xmlns:h="http://www.w3.org/1999/xhtml" '
            f'id="{FORM_ID}" version="{version}">')
    return f"{root}{_elements(TOP, record)}{wilayah}{umkm}{kop}{extra}{meta}</data>".encode()


def files(xml: bytes, *attachments: tuple[str, bytes, str]) -> dict:
    """The multipart parts as phones name them: the instance, then one part per attachment."""
    out = {"xml_submission_file": ("submission.xml", xml, "text/xml")}
    for filename, data, ctype in attachments:
        out[filename] = (filename, data, ctype)
    return out
