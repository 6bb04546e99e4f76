"""What an API user and the two pages' users meet (issue 26, items 7 and 9): every message in
Indonesian and starting with its field, refusals that do not name a record's wilayah, the ids
of likely duplicates kept from enumerators, one meaning for `masuk`, one text of an instant,
a machine-readable report CSV beside the display one, pages that open where the data is, and
docs that agree with the code (the sync cursor, the README's commands per role, the record's
fields)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shlex
import uuid

import pytest

from app.core import timefmt
from tests.support.bulk import insert_records
from tests.support.common import ROOT, auth
from tests.support.factories import koperasi, nik, umkm
from tests.support.helpers import post_one, post_records, report_csv
from tests.support.problems import assert_problem
from tests.support.verification_helpers import decide, tolak

PALEMBANG_DESA = "16.71.01.1001"


# ------------------------------------------------------------------ messages (item 9)

# Words of the English messages this service used to answer with. A message may hold field
# names and values (which are English-looking at times: `after`, `status`), so the words are
# looked for after the leading field name only.
_ENGLISH = re.compile(
    r"\b(the|is|are|must|required|not|outside|already|with|only|this|cannot|unknown|"
    r"needs|should|invalid|stale|exactly|least|most|than|before|between|used|"
    r"database|busy|try)\b",
    re.I,
)


def _assert_indonesian(body: dict) -> None:
    """The problem's detail and every field message are Indonesian; each field message starts
    with its field's name."""
    detail = body.get("detail") or ""
    for e in body.get("errors") or []:
        field, message = e["field"], e["message"]
        last = field.rsplit(".", 1)[-1]
        assert message.startswith((field, last)), (field, message)
        assert not _ENGLISH.search(message[len(field) :]), message
    rest = detail
    for e in body.get("errors") or []:
        rest = rest.replace(e["field"], "")
    assert not _ENGLISH.search(rest), detail


async def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    _assert_indonesian(body)
    return body


async def test_the_issues_three_english_messages_are_indonesian(client, keys, enum_key, verif):
    rec = await post_one(client, enum_key)
    # the 409 of a reused submission_id, single and in a batch
    other = {**rec, "modal_usaha": 99}
    body = await _problem(await client.post("/api/v1/submissions", json=other, headers=auth(enum_key)), 409)
    assert body["errors"][0]["field"] == "submission_id"
    r = await client.post("/api/v1/submissions/batch", json={"items": [other]}, headers=auth(enum_key))
    (item,) = r.json()["items"]
    assert item["status"] == 409 and item["errors"][0]["message"].startswith("submission_id ")
    assert not _ENGLISH.search(item["errors"][0]["message"][len("submission_id") :])
    # the 403 of a record outside the key's wilayah
    banyuasin = await client.post(
        "/api/v1/submissions",
        json=umkm(kode_wilayah=PALEMBANG_DESA, nik_pemilik=nik("167101")),
        headers=auth(await keys.make("enumerator", "16.07", name="enum-polish")),
    )
    body = await _problem(banyuasin, 403)
    assert body["errors"][0]["field"] == "kode_wilayah"
    # the verifikasi body's rule for lainnya
    r = await tolak(client, verif, rec["submission_id"], alasan="lainnya")
    body = await _problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["catatan"]


async def test_every_refusal_a_user_can_meet_is_indonesian(client, keys, enum_key, verif, admin, dinas):
    """A sweep over the refusals of every domain an API user calls: detail and field messages
    in Indonesian, each field message starting with its field."""
    rec = await post_one(client, enum_key)
    sid = rec["submission_id"]
    other_verif = await keys.make("verifikator", "16.71", name="verif-polish-palembang")
    sumsel_verif = await keys.make("verifikator", "16", name="verif-polish-sumsel")
    walidata = await keys.make("walidata", name="walidata-polish")
    cases = [
        # records
        (client.post("/api/v1/submissions", content=b"{", headers={**auth(enum_key), "content-type": "application/json"}), 400),
        (client.post("/api/v1/submissions/batch", json={"items": []}, headers=auth(enum_key)), 422),
        (client.post("/api/v1/submissions/batch", json={"barang": []}, headers=auth(enum_key)), 422),
        (client.post("/api/v1/submissions/batch", json={"items": [umkm()], "x": 1}, headers=auth(enum_key)), 422),
        (client.get(f"/api/v1/submissions/{uuid.uuid4()}", headers=auth(enum_key)), 404),
        (client.get("/api/v1/submissions", params={"kode_wilayah": "99.99"}, headers=auth(enum_key)), 422),
        (client.get(f"/api/v1/submissions/{sid}", headers=auth(other_verif)), 403),
        (client.get(f"/api/v1/submissions/{sid}/versi/9", headers=auth(verif)), 404),
        # decisions
        (decide(client, verif, sid, "diterima", dari="diterima"), 422),
        (decide(client, verif, sid, "ditolak"), 422),
        (decide(client, verif, sid, "diterima", alasan_kode="duplikat"), 422),
        (decide(client, verif, sid, "diterima", version=5), 409),
        (decide(client, other_verif, sid, "diterima"), 403),
        (decide(client, verif, sid, "ditolak", alasan_kode="lainnya", catatan="a\u0000b"), 422),
        # corrections
        (client.put(f"/api/v1/submissions/{sid}", json=rec, headers=auth(enum_key)), 422),
        (client.put(f"/api/v1/submissions/{sid}", json={**rec, "modal_usaha": 1}, headers=auth(enum_key)), 409),
        # the queue
        (client.get("/api/v1/verifikasi/antrian", params={"periode": "2022"}, headers=auth(sumsel_verif)), 422),
        (client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "kabkota": "16.99"}, headers=auth(sumsel_verif)), 422),
        (client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "cursor": "xyz"}, headers=auth(verif)), 422),
        (
            client.get(
                "/api/v1/verifikasi/antrian",
                params={"periode": "2022", "captured_dari": "2022-06-05", "captured_sampai": "2022-06-01"},
                headers=auth(verif),
            ),
            422,
        ),
        (client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "captured_dari": "1990-01-01"}, headers=auth(verif)), 422),
        (client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "wilayah": "16.71.01"}, headers=auth(verif)), 422),
        (client.get("/api/v1/verifikasi/rekap", params={"periode": "2022", "kabkota": "16.71"}, headers=auth(verif)), 403),
        (client.get("/api/v1/verifikasi/rekap", params={"periode": "1999"}, headers=auth(verif)), 422),
        # reports
        (client.get("/api/v1/capaian-pendataan", params={"periode": "2022"}, headers=auth(dinas)), 403),
        (client.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "99"}, headers=auth(admin)), 422),
        (client.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16.07.01.2001"}, headers=auth(admin)), 422),
        (
            client.get(
                "/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16", "tingkat": "provinsi"}, headers=auth(admin)
            ),
            422,
        ),
        (client.get("/api/v1/agregat/umkm", params={"periode": "2022", "status": "baru"}, headers=auth(admin)), 422),
        (client.get("/api/v1/agregat", params={"periode": "2022", "by": "warna"}, headers=auth(admin)), 422),
        (client.get("/api/v1/agregat", params={"periode": "2022", "by": "jenis,jenis"}, headers=auth(admin)), 422),
        (client.get("/api/v1/agregat/keragaan-koperasi", params={"periode": "2022", "wilayah": "16.07.01"}, headers=auth(admin)), 422),
        # targets
        (
            client.put(
                "/api/v1/targets/2022/16.07", json={"target": 5, "dasar_hukum": " ", "berlaku_mulai": "2022-01-01"}, headers=auth(admin)
            ),
            422,
        ),
        (client.get("/api/v1/targets/2022/16.07", headers=auth(admin)), 404),
        (
            client.put(
                "/api/v1/targets/2022/15", json={"target": 5, "dasar_hukum": "Kepdep", "berlaku_mulai": "2022-01-01"}, headers=auth(dinas)
            ),
            403,
        ),
        # wilayah, sync
        (client.get("/api/v1/wilayah", params={"parent": "99"}, headers=auth(enum_key)), 404),
        (client.get("/api/v1/sync/changes", params={"after": "bukan-kursor"}, headers=auth(walidata)), 422),
        (client.get("/api/v1/sync/snapshot", params={"periode": "1999"}, headers=auth(walidata)), 422),
        # indikator
        (client.get("/api/v1/indikator/capaian", params={"tahun": 2022, "wilayah": "99"}, headers=auth(admin)), 422),
        (client.get("/api/v1/indikator/capaian", params={"tahun": 2022, "wilayah": "15"}, headers=auth(dinas)), 403),
        (client.get("/api/v1/indikator/999", headers=auth(admin)), 404),
        (client.post("/api/v1/indikator/tujuan", json={"pemilik": "16", "kode": "T1", "nama": "Tujuan"}, headers=auth(dinas)), None),
        # no such route
        (client.get("/api/v1/tidak-ada", headers=auth(admin)), 404),
    ]
    for call, status in cases:
        r = await call
        if status is None:
            continue
        await _problem(r, status)
    # the same tujuan twice: already-exists
    r = await client.post("/api/v1/indikator/tujuan", json={"pemilik": "16", "kode": "T1", "nama": "Tujuan"}, headers=auth(dinas))
    await _problem(r, 409)


async def test_a_refusal_never_names_the_wilayah_of_a_record_outside_the_key(client, keys, enum_key, verif):
    """Item 7: the key holder learns the record is outside its scope, not where the record is."""
    rec = await post_one(client, enum_key, kode_wilayah=PALEMBANG_DESA, nik_pemilik=nik("167101"))
    sid = rec["submission_id"]
    enum_banyuasin = await keys.make("enumerator", "16.07", name="enum-polish-banyuasin")
    answers = [
        await client.get(f"/api/v1/submissions/{sid}", headers=auth(verif)),
        await client.get(f"/api/v1/submissions/{sid}/riwayat", headers=auth(verif)),
        await client.get(f"/api/v1/submissions/{sid}/versi", headers=auth(verif)),
        await client.get(f"/api/v1/submissions/{sid}/versi/1", headers=auth(verif)),
        await decide(client, verif, sid, "diterima"),
        await client.post(
            "/api/v1/submissions", json=umkm(kode_wilayah=PALEMBANG_DESA, nik_pemilik=nik("167101")), headers=auth(enum_banyuasin)
        ),
    ]
    batch = await client.post(
        "/api/v1/verifikasi/batch", json={"items": [{"submission_id": sid, "status": "diterima", "version": 1}]}, headers=auth(verif)
    )
    for r in answers:
        body = await _problem(r, 403)
        assert body["code"] == "outside-scope"
        assert "16.71" not in r.text, r.text
        assert "di luar wilayah kunci ini" in body["detail"], body
    (item,) = batch.json()["items"]
    assert item["status"] == 403 and "16.71" not in batch.text
    # a correction by the holder once moved out of its scope
    await tolak(client, await keys.make("verifikator", "16.71", name="verif-polish-palembang"), sid)
    moved = await keys.make("enumerator", "16.07", name="enum-polish-2", successor_of=enum_key)
    r = await client.put(f"/api/v1/submissions/{sid}", json={**rec, "modal_usaha": 1}, headers=auth(moved))
    body = await _problem(r, 403)
    assert "16.71" not in r.text


# ------------------------------------------------------------------ likely duplicates (item 7)


async def test_an_enumerator_learns_only_that_a_likely_duplicate_exists(client, keys, enum_key, verif, dinas, admin):
    owner = nik()
    first = await post_one(client, enum_key, nik_pemilik=owner, nama_usaha="Warung Bu Siti")
    guess = umkm(nik_pemilik=owner, nama_usaha="warung bu siti")
    r = await client.post("/api/v1/submissions", json=guess, headers=auth(enum_key))
    assert r.status_code == 201, r.text
    assert r.json()["kemungkinan_duplikat"] is True
    assert first["submission_id"] not in r.text
    assert r.json().get("duplikat_dengan") is None
    # the replay (200), the record, the list, the correction's answer: never the ids
    again = await client.post("/api/v1/submissions", json=guess, headers=auth(enum_key))
    assert again.status_code == 200 and first["submission_id"] not in again.text
    got = await client.get(f"/api/v1/submissions/{guess['submission_id']}", headers=auth(enum_key))
    assert got.json()["kemungkinan_duplikat"] is True and got.json()["duplikat_dengan"] is None
    assert first["submission_id"] not in got.text
    listed = await client.get("/api/v1/submissions", params={"kode_wilayah": "16.07"}, headers=auth(enum_key))
    assert listed.status_code == 200
    for item in listed.json()["items"]:
        assert item["kemungkinan_duplikat"] is True and item["duplikat_dengan"] is None
    batch = await client.post(
        "/api/v1/submissions/batch", json={"items": [umkm(nik_pemilik=owner, nama_usaha="Warung Bu-Siti")]}, headers=auth(enum_key)
    )
    assert first["submission_id"] not in batch.text and guess["submission_id"] not in batch.text
    assert (await tolak(client, verif, guess["submission_id"])).status_code == 200
    fixed = await client.put(f"/api/v1/submissions/{guess['submission_id']}", json={**guess, "modal_usaha": 1}, headers=auth(enum_key))
    assert fixed.status_code == 200, fixed.text
    assert first["submission_id"] not in fixed.text and fixed.json()["duplikat_dengan"] is None
    # whoever verifies or reads the registry gets the ids
    for key in (verif, dinas, admin, await keys.make("walidata", name="walidata-polish")):
        doc = (await client.get(f"/api/v1/submissions/{guess['submission_id']}", headers=auth(key))).json()
        assert first["submission_id"] in doc["duplikat_dengan"], doc


async def test_the_openapi_document_says_who_gets_the_duplicate_ids(client):
    spec = (await client.get("/openapi.json")).json()
    prop = spec["components"]["schemas"]["SubmissionOut"]["properties"]["duplikat_dengan"]
    assert "enumerator" in prop["description"] and "null" in prop["description"]


# ------------------------------------------------------------------ one meaning of masuk (item 9)


async def test_the_waiting_count_is_belum_diverifikasi_in_rekap_and_antrian(client, enum_key, verif):
    records = await post_records(client, enum_key, 3)
    assert (await decide(client, verif, records[0]["submission_id"], "diterima")).status_code == 200
    rekap = (await client.get("/api/v1/verifikasi/rekap", params={"periode": "2022"}, headers=auth(verif))).json()
    (row,) = rekap["items"]
    assert row["belum_diverifikasi"] == 2 and row["diterima"] == 1 and row["total"] == 3
    antrian = (await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022"}, headers=auth(verif))).json()
    assert antrian["jumlah"]["belum_diverifikasi"] == 2
    spec = (await client.get("/openapi.json")).json()
    props = spec["components"]["schemas"]["RekapKabkota"]["properties"]
    assert "belum_diverifikasi" in spec["components"]["schemas"]["RekapKabkota"]["required"]
    # the old name stays one release, marked so
    assert props["masuk"].get("deprecated") is True


# ------------------------------------------------------------------ one text of an instant (item 9)


async def test_the_queue_writes_instants_with_six_digit_microseconds(client, enum_key, verif):
    await post_one(client, enum_key, captured_at="2022-06-01T09:30:00+07:00")
    page = (await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022"}, headers=auth(verif))).json()
    (item,) = page["items"]
    assert item["captured_at"] == "2022-06-01T02:30:00.000000Z"
    assert re.match(timefmt.PATTERN, item["diperbarui_pada"])


async def test_report_documents_write_instants_in_the_one_text(client, admin):
    """The capaian document carries the target revision in force, with its dibuat_pada."""
    r = await client.put(
        "/api/v1/targets/2022/16", headers=auth(admin), json={"target": 100, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-01-01"}
    )
    assert r.status_code == 201, r.text
    doc = (await client.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16"}, headers=auth(admin))).json()
    assert re.match(timefmt.PATTERN, doc["target_wilayah"]["dibuat_pada"]), doc["target_wilayah"]
    assert doc["target_wilayah"]["dibuat_pada"] == r.json()["berlaku"]["dibuat_pada"]


# ------------------------------------------------------------------ machine-readable CSV (item 9)


def _data_csv(r) -> list[list[str]]:
    """A csv-data download: plain UTF-8 without a byte order mark, for programs."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert not r.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8"))))


async def test_reports_offer_a_csv_with_plain_numbers_beside_the_display_one(client, admin, pg):
    r = await client.put(
        "/api/v1/targets/2022/16.07",
        headers=auth(admin),
        json={"target": 12_500, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-01-01"},
    )
    assert r.status_code == 201, r.text
    await insert_records(pg, [("16.07", 13_004, 11_870, 402)])
    params = {"periode": "2022", "wilayah": "16"}
    doc = (await client.get("/api/v1/capaian-pendataan", params=params, headers=auth(admin))).json()
    row = next(x for x in doc["rows"] if x["kode"] == "16.07")

    display = report_csv(await client.get("/api/v1/capaian-pendataan", params={**params, "format": "csv"}, headers=auth(admin)))
    shown = next(x for x in display if x[1] == "16.07")
    assert shown[3:5] == ["12.500", "13.004"]  # as a reader writes them, unchanged

    data = _data_csv(await client.get("/api/v1/capaian-pendataan", params={**params, "format": "csv-data"}, headers=auth(admin)))
    assert data[0] == display[0]  # the same columns
    got = next(x for x in data if x[1] == "16.07")
    assert got[3:9] == ["12500", "13004", str(row["belum_diverifikasi"]), "11870", "402", "12272"]
    assert got[9:] == [row["masuk_vs_target"], row["diterima_vs_target"], row["diterima_vs_masuk"]]
    assert float(got[9]) == pytest.approx(13_004 / 12_500)
    no_target = next(x for x in data if x[1] == "16.01")
    assert no_target[3] == "" and no_target[9] == ""  # none is an empty cell, not "-"

    for path, extra in (
        ("/api/v1/agregat/umkm", {}),
        ("/api/v1/agregat/keragaan-koperasi", {}),
        ("/api/v1/agregat", {"by": "kode_kabkota", "status": "masuk,diterima,ditolak"}),
    ):
        rows = _data_csv(await client.get(path, params={**params, **extra, "format": "csv-data"}, headers=auth(admin)))
        numbers = [c for line in rows[1:] for c in line if re.fullmatch(r"-?[0-9][0-9.,]*", c)]
        assert numbers and all(re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", c) for c in numbers), rows
    agregat = _data_csv(
        await client.get(
            "/api/v1/agregat",
            params={**params, "by": "kode_kabkota", "format": "csv-data", "status": "masuk,diterima,ditolak"},
            headers=auth(admin),
        )
    )
    assert "13004" in next(line for line in agregat if line[0] == "16.07")

    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/capaian-pendataan",
        "/api/v1/agregat",
        "/api/v1/agregat/umkm",
        "/api/v1/agregat/keragaan-koperasi",
        "/api/v1/indikator/capaian",
    ):
        fmt = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "format")
        assert "csv-data" in fmt["schema"]["enum"], path
        assert "csv-data" in fmt["description"] and "csv" in fmt["description"], path


async def test_the_lkjip_table_has_a_data_csv_too(client, admin):
    r = await client.get("/api/v1/indikator/capaian", params={"tahun": 2022, "wilayah": "16", "format": "csv-data"}, headers=auth(admin))
    rows = _data_csv(r)
    assert rows[0][0] == "No"


# ------------------------------------------------------------------ where the data is (item 9)


async def test_periode_says_which_rounds_have_data_in_the_keys_wilayah(client, keys, pg):
    await insert_records(pg, [("16.07", 5, 1, 1), ("16.71", 2, 0, 0)], periode="2022")
    await insert_records(pg, [("15.71", 7, 0, 0)], periode="2024")
    banyuasin = await keys.make("verifikator", "16.07", name="verif-periode")
    doc = (await client.get("/api/v1/periode", headers=auth(banyuasin))).json()
    counts = {i["periode"]: i["jumlah_data"] for i in doc["items"]}
    assert counts["2022"] == 5 and counts["2024"] == 0 and counts["2026"] == 0
    assert doc["terbaru_dengan_data"] == "2022"
    national = await keys.make("dinas", name="dinas-periode")
    doc = (await client.get("/api/v1/periode", headers=auth(national))).json()
    assert doc["terbaru_dengan_data"] == "2024"
    assert {i["periode"]: i["jumlah_data"] for i in doc["items"]}["2022"] == 7
    empty = await keys.make("dinas", "13", name="dinas-sumbar-periode")
    assert (await client.get("/api/v1/periode", headers=auth(empty))).json()["terbaru_dengan_data"] is None
    enumerator = await keys.make("enumerator", "16", name="enum-periode")
    assert_problem(await client.get("/api/v1/periode", headers=auth(enumerator)), "role-forbidden")


# ------------------------------------------------------------------ docs that agree with the code


def test_sync_doc_says_what_export_cursors_do():
    """Two exports of an unchanged registry print different cursors (tests/api/test_sync_cli.py
    proves it); docs/sync.md said the same cursor, against the README and decisions.md."""
    text = (ROOT / "docs" / "sync.md").read_text()
    export = text[text.index("## Export and import") :]
    export = export[: export.index("\n## ", 5)] if "\n## " in export[5:] else export
    assert "prints the same" not in export and "same cursor" not in export.replace("\n", " ")
    assert "different" in export


def test_the_record_fields_document_is_current():
    from app.record.doc import record_markdown

    assert (ROOT / "docs" / "record.md").read_text() == record_markdown(), "run: .venv/bin/python -m app.record.doc > docs/record.md"
    text = record_markdown()
    for field in ("nik_pemilik", "nama_koperasi", "kewenangan", "skala_usaha", "kemungkinan_duplikat"):
        assert f"`{field}`" in text


def _role_block() -> list[str]:
    """The README's "One command per role" shell block, continuation lines joined."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## One command per role")
    block = readme[start:].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip() and not line.strip().startswith("#")]


async def test_the_readmes_command_per_role_block_works(live_server, client, keys, tmp_path):
    """Every line of the block, as a user would run it: keys as `kumkm apikey create` makes them,
    each curl sent as curl would send it, and the `kumkm sync pull` line through the CLI's own
    parser and command."""
    from app.cli import build_parser

    env = {"API": live_server.url + "/api/v1"}
    lines = _role_block()
    assert any("sync pull" in line for line in lines)
    covered = set()
    # the worked example's record and key come first
    env["KEY"] = await keys.make("enumerator", "16.07", name="enum-readme")
    example = umkm(submission_id="7b0d6c1e-4a8e-4b55-9a3f-2f1d8e6b9c01", nik_pemilik=nik())
    assert (await client.post("/api/v1/submissions", json=example, headers=auth(env["KEY"]))).status_code == 201

    def expand(text: str) -> str:
        return re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: env.get(m.group(1), m.group(0)), text)

    for line in lines:
        m = re.match(r"(?:export )?([A-Z_]+)=\$\(\./dev kumkm apikey create (.*?)\s*\|\s*tail -1\)", line)
        if m:
            args = shlex.split(m.group(2))
            role = args[args.index("--role") + 1]
            wilayah = args[args.index("--wilayah") + 1] if "--wilayah" in args else None
            env[m.group(1)] = await keys.make(role, wilayah, name=args[args.index("--name") + 1])
            continue
        m = re.match(r"([A-Z_]+)=(\S+)", line)
        if m and not line.startswith("curl"):
            # the service's address is the test's own
            env.setdefault(m.group(1), expand(m.group(2).split("#")[0].strip()))
            continue
        if line.startswith("curl"):
            argv = shlex.split(expand(line.split(" # ")[0]))
            method, headers, body, url = "GET", {}, None, None
            i = 1
            while i < len(argv):
                a = argv[i]
                if a == "-X":
                    method, i = argv[i + 1], i + 2
                elif a == "-H":
                    k, v = argv[i + 1].split(":", 1)
                    headers[k.strip()] = v.strip()
                    i += 2
                elif a == "-d":
                    body, i = argv[i + 1], i + 2
                elif a == "-o":
                    i += 2
                elif a.startswith("-"):
                    i += 1
                else:
                    url, i = a, i + 1
            assert "$" not in url and all("$" not in v for v in headers.values()), line
            r = await client.request(method, url, headers=headers, content=body)
            assert r.status_code in (200, 201), (line, r.status_code, r.text)
            covered.add((method, url.split("?")[0].replace(env["API"], "")))
            continue
        m = re.match(r"\./dev kumkm (sync pull .*)", line)
        if m:
            args = build_parser().parse_args(shlex.split(expand(m.group(1))))
            args.url = live_server.url
            args.state, args.out = str(tmp_path / "cursor.json"), str(tmp_path / "bdt")
            args.key = env["KUMKM_SYNC_KEY"]
            assert await asyncio.to_thread(args.func, args) == 0
            assert (tmp_path / "bdt" / "changes.ndjson").read_text().count("\n") >= 2
            covered.add(("sync", "pull"))
            continue
        raise AssertionError(f"a line the test does not know how to run: {line}")
    sid = "7b0d6c1e-4a8e-4b55-9a3f-2f1d8e6b9c01"
    assert {
        ("GET", f"/submissions/{sid}"),
        ("POST", f"/submissions/{sid}/verifikasi"),
        ("PUT", "/targets/2022/16.07"),
        ("GET", "/capaian-pendataan"),
        ("sync", "pull"),
    } <= covered
    readme = (ROOT / "README.md").read_text()
    assert "docs/record.md" in readme[readme.index("## One command per role") :]


async def test_koperasi_records_follow_the_same_duplicate_rule(client, enum_key):
    """A koperasi has no duplicate key: the answer says no likely duplicate, and no ids."""
    r = await client.post("/api/v1/submissions", json=koperasi(), headers=auth(enum_key))
    assert r.status_code == 201 and r.json()["kemungkinan_duplikat"] is False
    assert r.json()["duplikat_dengan"] is None
