"""The personal-data rule and its masks. UU 27/2022 Pelindungan Data Pribadi: NIK, nama
pemilik, telepon and the exact alamat are shown in full only to the roles that need them;
everyone else gets them masked, and every response that reveals them is written to the access
log (app.security.accesslog). Routes ask through app.security.policy.authorize, whose answer
carries this rule's verdict (`Grant.pii`); the record's own answer (app.record.prepare) asks
here row by row."""

from __future__ import annotations

import re
from typing import Any

from app.security.principal import Principal

PII_FIELDS = ("nik_pemilik", "nama_pemilik", "telepon", "alamat")


def can_see_pii(principal: Principal, kode_wilayah: str, owner_identity: int | None) -> bool:
    """Whether this caller sees a record's personal data, for a record (or one version of
    it) in `kode_wilayah` created by the key holder `owner_identity`."""
    role = principal.role
    if role == "admin":
        return True
    if role in ("verifikator", "dinas"):
        return principal.covers(kode_wilayah)
    if role == "enumerator":
        return owner_identity is not None and owner_identity == principal.identity and principal.covers(kode_wilayah)
    if role == "walidata":
        return principal.pii
    return False


def mask_nik(nik: str) -> str:
    return nik[:4] + "*" * max(len(nik) - 6, 0) + nik[-2:] if len(nik) > 6 else "*" * len(nik)


def mask_nama(nama: str) -> str:
    return " ".join(w[0] + "*" * (len(w) - 1) for w in nama.split())


_NOT_DIGIT = re.compile(r"\D")


def mask_telepon(tel: str) -> str:
    # once per masked line of a feed page or snapshot: a regex, not a loop over characters
    digits = _NOT_DIGIT.sub("", tel)
    return "*" * max(len(digits) - 3, 0) + digits[-3:]


def mask_record_data(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if out.get("nik_pemilik"):
        out["nik_pemilik"] = mask_nik(out["nik_pemilik"])
    if out.get("nama_pemilik"):
        out["nama_pemilik"] = mask_nama(out["nama_pemilik"])
    if out.get("telepon"):
        out["telepon"] = mask_telepon(out["telepon"])
    if out.get("alamat"):
        out["alamat"] = "(disamarkan)"
    if out.get("lokasi"):
        out["lokasi"] = round_lokasi(out["lokasi"])
    return out


# A GPS point to 5 decimals is a front door; two decimals (about 1 km) is not. The one rule for
# every answer that shows a lokasi to a caller without the grant: a record's content (the API,
# the feed, the snapshot) and the map's points (app.kampanye).
LOKASI_DECIMALS = 2


def round_lokasi(lokasi: dict[str, float]) -> dict[str, float]:
    return {k: round(v, LOKASI_DECIMALS) for k, v in lokasi.items()}


def reveals_pii(data: dict[str, Any]) -> bool:
    return any(data.get(f) for f in PII_FIELDS)
