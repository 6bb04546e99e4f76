"""Excel workbooks (`format=xlsx`): how long app/reporting/xlsx.py takes to build the largest report
tables and how much memory it holds while doing so.

    python -m bench.xlsx [--repeat 3]

No service and no database: the tables are made up with the shapes the endpoints produce at
their largest — capaian pendataan of the nation by kabupaten/kota (514 rows), keragaan
koperasi by provinsi (38 rows + 3), and the general agregat at its bound of 10,000 groups
with every measure (23 columns). It reports the build time (median of --repeat) and the peak
of Python memory allocated during one build (tracemalloc), and exits 1 when the 10,000-group
workbook takes more than 10 s or 50 MB: past that, a request would hold a core or a share of
the service's memory budget (RSS < 300 MB, domain.md) for too long."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from fractions import Fraction

from app.reporting import xlsx

C = xlsx.Column


def capaian_514() -> xlsx.Table:
    rnd = random.Random(1)
    rows = []
    for i in range(514):
        target = rnd.randint(0, 90_000) or None
        masuk = rnd.randint(0, 100_000)
        diterima = rnd.randint(0, masuk)
        ditolak = rnd.randint(0, masuk - diterima)
        rows.append(
            [
                i + 1,
                f"{11 + i // 14:02d}.{i % 14 + 1:02d}",
                f"Kabupaten Contoh {i}",
                target,
                masuk,
                masuk - diterima - ditolak,
                diterima,
                ditolak,
                diterima + ditolak,
                Fraction(masuk, target) if target else None,
                Fraction(diterima, target) if target else None,
                Fraction(diterima, masuk) if masuk else None,
            ]
        )
    columns = [
        C("No"),
        C("Kode", "text"),
        C("Kabupaten/Kota", "text"),
        C("Target"),
        C("Data Masuk"),
        C("Belum Diverifikasi"),
        C("Diterima", group="Hasil Verifikasi"),
        C("Ditolak", group="Hasil Verifikasi"),
        C("Total Terverifikasi", group="Hasil Verifikasi"),
        C("Masuk vs Target", "rasio", group="Capaian"),
        C("Diterima vs Target", "rasio", group="Capaian"),
        C("Diterima vs Masuk", "rasio", group="Capaian"),
    ]
    return xlsx.Table("Capaian Pendataan PL-KUMKM", ["Wilayah: Nasional", "Periode: 2022"], columns, rows)


def agregat_10000() -> xlsx.Table:
    rnd = random.Random(2)
    measures = 21
    columns = [C("Kode Kecamatan", "text"), C("Kecamatan", "text")] + [
        C(f"Ukuran {m}", "rupiah" if m % 3 == 0 else "angka") for m in range(measures)
    ]
    rows = [
        [f"16.{g // 1000:02d}.{g % 1000:03d}", f"Kecamatan Contoh {g}"]
        + [str(rnd.randint(0, 10**16)) if m % 3 == 0 else rnd.randint(0, 10**6) for m in range(measures)]
        for g in range(10_000)
    ]
    return xlsx.Table("Agregat PL-KUMKM", ["Wilayah: Nasional", "Periode: 2022"], columns, rows, totals=[["Jumlah", None] + [0] * measures])


def keragaan_41() -> xlsx.Table:
    columns = (
        [C("No"), C("Kode", "text"), C("Provinsi", "text")]
        + [C(h, group=g) for g in ("Koperasi", "Anggota", "Manajer", "Karyawan") for h in ("Jumlah", "L", "P")]
        + [C(h, "rupiah") for h in ("Modal Sendiri", "Modal Luar", "Volume Usaha", "SHU")]
        + [C("Persentase Aktif", "rasio")]
    )
    rows = [
        [i + 1, f"{i + 11}", f"Provinsi {i}"] + [i * 1000 + j for j in range(12)] + [str(10**14 * i), "5", "6", "-7"] + [Fraction(i, 41)]
        for i in range(41)
    ]
    return xlsx.Table("Keragaan Koperasi", ["Wilayah: Nasional"], columns, rows)


def measure(make, repeat: int) -> dict:
    times = []
    size = 0
    for _ in range(repeat):
        table = make()
        t0 = time.perf_counter()
        size = len(xlsx.build(table))
        times.append(time.perf_counter() - t0)
    table = make()
    tracemalloc.start()
    xlsx.build(table)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds_median": round(statistics.median(times), 3), "bytes": size, "peak_mb": round(peak / 2**20, 1)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.xlsx", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    results = {}
    for name, make in (("capaian_514_rows", capaian_514), ("keragaan_41_rows", keragaan_41), ("agregat_10000_groups", agregat_10000)):
        results[name] = r = measure(make, args.repeat)
        print(
            f"{name:24s} build {r['seconds_median'] * 1000:8.1f} ms   {r['bytes'] / 1024:8.1f} kB   "
            f"peak Python memory {r['peak_mb']:6.1f} MB",
            flush=True,
        )
    big = results["agregat_10000_groups"]
    ok = big["seconds_median"] < 10 and big["peak_mb"] < 50
    print("targets met" if ok else "target missed: 10,000 groups in < 10 s and < 50 MB")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
