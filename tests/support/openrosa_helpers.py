"""Instances of the PL-KUMKM form as phones send them, made from the JSON API's record shape
(tests/support/factories.py), so a test can post the same content both ways.

`collect`: ODK Collect's shape (no namespace, the section `jenis` did not choose left out, as
non-relevant groups are). `enketo`: Enketo's (the XForms namespace with the jr/orx
declarations, `meta` in the orx namespace, the other section sent empty)."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from app.openrosa.documents import INTEGERS, YES_NO

FORM_ID = "pl_kumkm"
TOP = ("captured_at", "periode", "enumerator_id", "jenis")
UMKM = (
    "nama_usaha",
    "nama_pemilik",
    "nik_pemilik",
    "nib",
    "alamat",
    "telepon",
    "kbli",
    "status_tempat",
    "modal_usaha",
    "hasil_penjualan_tahunan",
    "aset",
    "tenaga_kerja_laki_laki",
    "tenaga_kerja_perempuan",
    "platform_digital",
    "izin_usaha",
)
KOPERASI = (
    "nama_koperasi",
    "nik_koperasi",
    "nomor_badan_hukum",
    "jenis_koperasi",
    "kewenangan",
    "aktif",
    "tahun_rat_terakhir",
    "anggota_laki_laki",
    "anggota_perempuan",
    "manajer_laki_laki",
    "manajer_perempuan",
    "karyawan_laki_laki",
    "karyawan_perempuan",
    "modal_sendiri",
    "modal_luar",
    "volume_usaha",
    "aset",
    "shu",
    "izin_usaha_simpan_pinjam",
    "kesehatan",
    "alamat",
    "telepon",
)


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


def instance(
    record: dict,
    *,
    style: str = "collect",
    instance_id: str | None = None,
    deprecated_id: str | None = None,
    version: str = "2026112301",
    extra: str = "",
) -> bytes:
    """The instance XML for `record` (a tests.support.factories record); `instance_id` defaults to its
    submission_id, `deprecated_id` makes it an edit of that instance."""
    iid = instance_id or record["submission_id"]
    kode = record.get("kode_wilayah", "")
    parts = kode.split(".")
    kabkota, kecamatan = ".".join(parts[:2]), ".".join(parts[:3])
    lokasi = record.get("lokasi")
    gps = f"{lokasi['lat']} {lokasi['lon']} 12.0 4.5" if lokasi else ""
    wilayah = (
        f"<wilayah><kabkota>{kabkota}</kabkota><kecamatan>{kecamatan}</kecamatan>"
        f"<kode_wilayah>{kode}</kode_wilayah><lokasi>{gps}</lokasi></wilayah>"
    )
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
    meta = f"<orx:meta><orx:instanceID>uuid:{iid}</orx:instanceID>{dep}<orx:instanceName>{escape(name)}</orx:instanceName></orx:meta>"
    root = (
        f'<data xmlns="http://www.w3.org/2002/xforms" xmlns:ev="http://www.w3.org/2001/xml-events" '
        f'xmlns:jr="http://openrosa.org/javarosa" xmlns:odk="http://www.opendatakit.org/xforms" '
        f'xmlns:orx="http://openrosa.org/xforms" xmlns:h="http://www.w3.org/1999/xhtml" '
        f'id="{FORM_ID}" version="{version}">'
    )
    return f"{root}{_elements(TOP, record)}{wilayah}{umkm}{kop}{extra}{meta}</data>".encode()


def files(xml: bytes, *attachments: tuple[str, bytes, str]) -> dict:
    """The multipart parts as phones name them: the instance, then one part per attachment."""
    out = {"xml_submission_file": ("submission.xml", xml, "text/xml")}
    for filename, data, ctype in attachments:
        out[filename] = (filename, data, ctype)
    return out


# ---------------------------------------------------------------- talking to the service

OR_NS = "{http://openrosa.org/http/response}"


def message(r) -> tuple[str, str]:
    """(nature, text) of an OpenRosaResponse (an httpx response or its body)."""
    from xml.etree.ElementTree import fromstring

    doc = fromstring(getattr(r, "content", r))
    assert doc.tag == f"{OR_NS}OpenRosaResponse", getattr(r, "text", r)
    msg = doc.find(f"{OR_NS}message")
    return msg.get("nature"), msg.text


async def post(client, key: str, xml: bytes, *attachments):
    """A submission as a phone posts it."""
    return await client.post(f"/openrosa/{key}/submission", files=files(xml, *attachments), headers={"X-OpenRosa-Version": "1.0"})


def multipart(xml: bytes, boundary: str = "kumkm-test-boundary") -> tuple[str, bytes]:
    """(Content-Type, body) of a submission with the instance only, built once, for tests that
    send it many times or over a raw socket."""
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def xml_doc(inner: str, root_attrs: str = "") -> bytes:
    """An instance document of the PL-KUMKM form around `inner`, with a fresh instanceID."""
    return (
        f'<data id="pl_kumkm" version="2026112301"{root_attrs}>{inner}<meta><instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>'
    ).encode()


# ---------------------------------------------------------------- the follow-up visit form

FOLLOW_UP_FORM_ID = "pemutakhiran_kumkm"


def follow_up(record: dict, id_kumkm: str, base_version: int | str | None, keadaan: str = "aktif", version: str = "2026120601") -> bytes:
    """A pemutakhiran_kumkm instance as ODK Collect sends it: the usaha picked from usaha.csv
    (`id_kumkm`), `jenis` calculated from the list, the entity update in meta/entity with the
    baseVersion the list carried (attributes as pyxform declares them), this round's answers."""
    kode = record.get("kode_wilayah", "")
    parts = kode.split(".")
    wilayah = (
        f"<wilayah><kabkota>{'.'.join(parts[:2])}</kabkota><kecamatan>{'.'.join(parts[:3])}</kecamatan>"
        f"<kode_wilayah>{kode}</kode_wilayah><lokasi></lokasi></wilayah>"
    )
    jenis = record["jenis"]
    section = f"<umkm>{_elements(UMKM, record)}</umkm>" if jenis == "umkm" else f"<koperasi>{_elements(KOPERASI, record)}</koperasi>"
    name = record.get("nama_usaha") or record.get("nama_koperasi") or ""
    base = "" if base_version is None else escape(str(base_version), {'"': "&quot;"})
    entity = (
        f'<entity dataset="usaha" update="1" baseVersion="{base}" trunkVersion="" branchId="" id="{id_kumkm}">'
        f"<label>{escape(name)} ({id_kumkm})</label></entity>"
    )
    meta = f"<meta>{entity}<instanceID>uuid:{record['submission_id']}</instanceID><instanceName>{escape(name)}</instanceName></meta>"
    top = _elements(("captured_at", "periode", "enumerator_id"), record)
    return (
        f'<?xml version=\'1.0\' ?><data id="{FOLLOW_UP_FORM_ID}" version="{version}">{top}{wilayah}'
        f"<id_kumkm>{id_kumkm}</id_kumkm><jenis>{jenis}</jenis><keadaan_usaha>{keadaan}</keadaan_usaha>{section}{meta}</data>"
    ).encode()
