"""Names of usaha compared as people write them (soft evidence of the linker, docs/registry.md).

The same warung is "Warung Makan Bu Siti" in one round and "WR. BU SITI" in the next: case,
accents, punctuation, spacing and the kind-of-business words in front say nothing about which
usaha it is, so they go before comparing. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

# A candidate when the names are at least this similar (with the same NIK pemilik in the same
# kabupaten/kota); below it, the same person's other business.
AMBANG = 0.80

# Words in front of a name that say what kind of business or legal form it is, not which one;
# longest first, so "warung makan" goes before "warung". Dropped again and again ("CV Toko
# Maju"), but never the whole name ("Toko" alone stays "toko").
AWALAN = tuple(
    sorted(
        (
            ("toko",),
            ("warung",),
            ("warung", "makan"),
            ("wr",),
            ("warmak",),
            ("kedai",),
            ("ud",),
            ("cv",),
            ("pt",),
            ("koperasi",),
            ("kop",),
            ("ksp",),
            ("kud",),
            ("bumdes",),
            ("usaha",),
            ("rumah", "makan"),
            ("rm",),
        ),
        key=len,
        reverse=True,
    )
)
AKHIRAN = (("tbk",),)

_PUNCTUATION = re.compile(r"[^0-9a-z]+")


def _letters_joined(tokens: list[str]) -> list[str]:
    """Runs of single letters are one abbreviation: "U.D." became "u d", and is "ud"."""
    out: list[str] = []
    run: list[str] = []
    for tok in tokens + [""]:
        if len(tok) == 1 and tok.isalpha():
            run.append(tok)
            continue
        if len(run) > 1:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if tok:
            out.append(tok)
    return out


def normalise(nama: str) -> str:
    """Lower case ASCII words separated by one space, without accents, punctuation, and the
    common prefixes (toko, warung, ud, cv, pt, koperasi, ...) and suffixes (tbk)."""
    text = unicodedata.normalize("NFKD", nama)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    tokens = _letters_joined(_PUNCTUATION.sub(" ", text).split())
    changed = True
    while changed:
        changed = False
        for awalan in AWALAN:
            n = len(awalan)
            if len(tokens) > n and tuple(tokens[:n]) == awalan:
                tokens = tokens[n:]
                changed = True
                break
        for akhiran in AKHIRAN:
            n = len(akhiran)
            if len(tokens) > n and tuple(tokens[-n:]) == akhiran:
                tokens = tokens[:-n]
                changed = True
                break
    return " ".join(tokens)


def similarity(a: str, b: str) -> float:
    """How alike two normalised names are, 0..1: the larger of the Jaccard index of their word
    sets (word order and repeated words do not matter: "siti bu" = "bu siti") and the
    normalised Levenshtein similarity of the texts (a typo is one edit: "bu siti" ~ "bu sity")."""
    if not a or not b:
        return 0.0
    ta, tb = set(a.split()), set(b.split())
    jaccard = len(ta & tb) / len(ta | tb)
    return max(jaccard, Levenshtein.normalized_similarity(a, b))


def mirip(a: str, b: str) -> float | None:
    """The similarity of two raw names when it reaches AMBANG, else None."""
    nilai = similarity(normalise(a), normalise(b))
    return nilai if nilai >= AMBANG else None
