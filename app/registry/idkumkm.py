"""The national id of a KUMKM entity (`id_kumkm`), printable and with a check digit.

`U` (usaha, UMKM) or `K` (koperasi), nine digits of the sequence `kumkm_nomor` zero-padded,
and one check digit: the Damm algorithm over "<1 for K, 2 for U><nine digits>". Damm catches
every single-digit error and every adjacent transposition (the two typing mistakes people make
most), and, since the letter is in the checked digits, a U typed for a K too. Pure functions.
"""

from __future__ import annotations

import re

# The Damm quasigroup of order 10 (weakly totally anti-symmetric, zero diagonal).
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

HURUF = {"umkm": "U", "koperasi": "K"}
JENIS = {"U": "umkm", "K": "koperasi"}
_ANGKA_HURUF = {"K": "1", "U": "2"}
DIGITS = 9
MAX_NOMOR = 10**DIGITS - 1
LENGTH = 1 + DIGITS + 1
_FORM = re.compile(r"^[UK][0-9]{10}$")
# what a person may type around the id: spaces, hyphens, dots
_SEPARATORS = re.compile(r"[\s\-.]+")


def damm(digits: str) -> int:
    """The Damm check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def make(jenis: str, nomor: int) -> str:
    """The canonical id of entity number `nomor` (from the sequence) of `jenis` ('umkm' or
    'koperasi', or the letter itself)."""
    huruf = HURUF.get(jenis, jenis)
    if huruf not in _ANGKA_HURUF:
        raise ValueError(f"jenis {jenis!r} bukan umkm atau koperasi")
    if not 1 <= nomor <= MAX_NOMOR:
        raise ValueError(f"nomor {nomor} di luar 1..{MAX_NOMOR}")
    body = f"{nomor:0{DIGITS}d}"
    return f"{huruf}{body}{damm(_ANGKA_HURUF[huruf] + body)}"


def normalise(text: str) -> str:
    """The canonical form of an id as a person typed it (lower case, spaces, hyphens and dots
    allowed: `u-000-001-234-7`). ValueError, its message saying what is wrong (in the users'
    language, naming `id_kumkm`), when it is not an id or its check digit does not match."""
    compact = _SEPARATORS.sub("", text).upper()
    if not _FORM.match(compact):
        raise ValueError("id_kumkm harus huruf U (usaha) atau K (koperasi) diikuti 10 angka, mis. U0000012347")
    if damm(_ANGKA_HURUF[compact[0]] + compact[1:]) != 0:
        raise ValueError("id_kumkm salah ketik: angka periksa tidak cocok")
    return compact


def valid(text: str) -> bool:
    try:
        normalise(text)
    except ValueError:
        return False
    return True


def jenis_of(id_kumkm: str) -> str:
    """'umkm' or 'koperasi', from the letter of a canonical id."""
    return JENIS[id_kumkm[0]]
