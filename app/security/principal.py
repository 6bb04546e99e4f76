"""Who is calling, as the rest of the service sees it: a key's role, its wilayah and its grant
of personal data. authn finds it from the request; policy decides what it may do."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("enumerator", "verifikator", "dinas", "walidata", "admin", "mitra")

# A partner program (a bank checking KUR eligibility, a ministry choosing participants): it may
# take only the look-up `kumkm.cek`, not even what every other key may (policy.EVERY_KEY).
MITRA = "mitra"
# The roles of the registry's own people: every role but the partner's.
STAFF_ROLES = tuple(r for r in ROLES if r != MITRA)

# The purposes a partner's look-up may serve (docs/mitra.md): a key carries those its agreement
# names, and every look-up names one of them.
TUJUAN = ("kur", "pembiayaan", "bantuan", "pelatihan", "pendampingan", "pengadaan")


@dataclass(frozen=True)
class Principal:
    id: int | None  # the API key; None for an operator at the console
    name: str
    role: str
    kode_wilayah: str | None
    pii: bool = False
    # The holder: the same across rotations of a key, new for every key created. Records
    # belong to it, never to the name.
    identity: int | None = None
    # A partner's key (role mitra): the purposes it may look up for, its daily quota of
    # look-ups and its requests per second (docs/mitra.md). Empty / None on every other key.
    tujuan: tuple[str, ...] = ()
    kuota_harian: int | None = None
    per_detik: int | None = None

    @classmethod
    def operator(cls, name: str) -> Principal:
        """Someone at the server's console (`kumkm import`, `kumkm export`): national scope and
        the admin role, no API key; the name goes on record as the actor."""
        return cls(id=None, name=name, role="admin", kode_wilayah=None)

    def covers(self, kode: str) -> bool:
        s = self.kode_wilayah
        return s is None or kode == s or kode.startswith(s + ".")
