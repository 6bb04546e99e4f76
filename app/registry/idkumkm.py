"""The national id of an entitas KUMKM: `U` (usaha) or `K` (koperasi), 9 digits from the
sequence `kumkm_nomor`, and a check digit: the Damm algorithm over "<1 for K, 2 for U><9 digits>"
(it catches every single-digit error and every adjacent transposition). Pure."""
from __future__ import annotations

import re

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_PREFIX = {"koperasi": "K", "umkm": "U"}
_LEAD = {"K": "1", "U": "2"}
_FORM = re.compile(r"^[UK][0-9]{10}$")
_SEPARATORS = re.compile(r"[\s\-]+")


def damm(digits: str) -> int:
    interim = 0
    for d in digits:
        interim = _DAMM[interim][int(d)]
    return interim


def make(jenis: str, nomor: int) -> str:
    """The canonical id of entity number `nomor` of `jenis` (umkm | koperasi)."""
    if not 0 < nomor < 10**9:
        raise ValueError("nomor di luar 1..999999999")
    prefix = _PREFIX[jenis]
    body = f"{nomor:09d}"
    return f"{prefix}{body}{damm(_LEAD[prefix] + body)}"


def normalise(text: str) -> str:
    """The canonical form of a typed id (lower case, spaces and hyphens accepted); ValueError
    with the reason (Indonesian, naming id_kumkm) when it cannot be one."""
    s = _SEPARATORS.sub("", text).upper()
    if not _FORM.match(s):
        raise ValueError("id_kumkm harus U atau K diikuti 10 angka, mis. U0000012347")
    if damm(_LEAD[s[0]] + s[1:]) != 0:
        raise ValueError("id_kumkm salah ketik: angka periksa tidak cocok")
    return s


def valid(text: str) -> bool:
    try:
        normalise(text)
    except ValueError:
        return False
    return True


def jenis_of(id_kumkm: str) -> str:
    return "koperasi" if id_kumkm[0] == "K" else "umkm"
