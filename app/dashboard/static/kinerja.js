/* Kinerja enumerator on the dashboard (GET /api/v1/kampanye/enumerator; docs/kampanye.md,
 * "Enumerators and quality"): one page of the enumerator table of the provinsi or
 * kabupaten/kota on screen, its order, its pages and its downloads. dashboard.js tells this
 * module what is on screen with the `dasbor:tampil` event (and `dasbor:lupa` when the key goes);
 * nothing else of the dashboard is touched here.
 *
 * Every value goes on the page as text (`el`); the percentages are the API's own `persen`
 * strings, rounded once on the server from the exact fraction. */
import {$, ApiError, angka, apiJson, el, tanggal, unduhBerkas} from "/static/kumkm/kumkm.js";

const PATH = "/kampanye/enumerator";
const LIMIT = 25;
const ALASAN = {data_tidak_lengkap: "Tidak lengkap", data_tidak_valid: "Tidak valid", duplikat: "Duplikat",
                di_luar_wilayah: "Di luar wilayah", bukan_kumkm: "Bukan KUMKM", lainnya: "Lainnya"};

let shown = null;     // {periode, wilayah} of the dashboard
let cursors = [null]; // the cursor of each page seen, to go back
let page = 0;
let seq = 0;          // a slow answer for an earlier choice must not overwrite a newer one

function say(text) {
  const box = $("kinerja-pesan");
  box.textContent = text || "";
  box.hidden = !text;
}

/** A median time as a reader says it, as the CSV writes it: 45 detik, 12 menit, 3 jam 5 menit, 2 hari 4 jam. */
export function jeda(detik) {
  if (detik === null || detik === undefined) return "-";
  const sign = detik < 0 ? "-" : "";
  let s = Math.abs(detik);
  const days = Math.floor(s / 86400); s -= days * 86400;
  const hours = Math.floor(s / 3600); s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  const seconds = s - minutes * 60;
  if (days) return sign + days + " hari" + (hours ? " " + hours + " jam" : "");
  if (hours) return sign + hours + " jam" + (minutes ? " " + minutes + " menit" : "");
  if (minutes) return sign + minutes + " menit";
  return sign + seconds + " detik";
}

/** An instant in WIB, as the dashboard writes times: 31/12/2022 14:05 WIB. */
function waktu(iso) {
  if (!iso) return "-";
  const wib = new Date(Date.parse(iso) + 7 * 3600 * 1000).toISOString();
  return tanggal(wib) + " " + wib.slice(11, 16) + " WIB";
}

function labelTanda(aturan) {
  const b = aturan.rekaman_beruntun, n = aturan.nik_berulang, t = aturan.tolak_tinggi, l = aturan.lokasi_luar;
  return {
    rekaman_beruntun: ["Rekaman beruntun", b.minimal + " rekaman atau lebih dalam " + b.menit + " menit"],
    nik_berulang: ["NIK berulang", "NIK pemilik yang sama pada " + n.minimal + " rekaman atau lebih"],
    tolak_tinggi: ["Tolak tinggi", "tingkat tolak lebih dari " + t.kali + " kali tingkat tolak kabupaten/kota tempat " +
                   "rekamannya, dengan sedikitnya " + t.minimal_diputus + " rekaman diputus dan " + t.minimal_ditolak + " ditolak"],
    lokasi_luar: ["Lokasi di luar", l.minimal + " rekaman atau lebih berlokasi di luar batas kotak kabupaten/kotanya " +
                  "(lebih dari sekitar 1 km), dihitung di kabupaten/kota yang batasnya sudah dimuat"],
  };
}

function row(no, r, label) {
  const tr = document.createElement("tr");
  tr.dataset.enumerator = r.enumerator_id;
  if (r.tanda.length) tr.className = "bertanda";
  tr.append(el("td", String(no), "no"), el("td", r.enumerator_id, "nama"), el("td", r.kode_kabkota.join(", ")));
  for (const [kolom, text] of [["masuk", angka(r.masuk)], ["belum_diverifikasi", angka(r.belum_diverifikasi)],
                               ["diterima", angka(r.diterima)], ["ditolak", angka(r.ditolak)],
                               ["tingkat_tolak", r.persen.tingkat_tolak || "-"],
                               ["tingkat_tolak_wilayah", r.persen.tingkat_tolak_wilayah || "-"]]) {
    const td = el("td", text, "angka");
    td.dataset.kolom = kolom;
    tr.append(td);
  }
  const alasan = Object.entries(r.alasan).filter(([, n]) => n > 0).map(([k, n]) => (ALASAN[k] || k) + " " + angka(n));
  tr.append(el("td", alasan.length ? alasan.join(" · ") : "-", "alasan"));
  const j = el("td", jeda(r.jeda_median_detik), "angka");
  j.dataset.kolom = "jeda";
  tr.append(j, el("td", angka(r.hari_aktif), "angka"), el("td", waktu(r.terakhir_terlihat)));
  const tanda = el("td", null, "tanda");
  tanda.dataset.kolom = "tanda";
  for (const code of r.tanda) {
    const badge = el("span", label[code][0], "lencana " + code);
    badge.title = label[code][1];
    tanda.append(badge);
  }
  if (!r.tanda.length) tanda.textContent = "-";
  tr.append(tanda);
  return tr;
}

function render(doc) {
  const label = labelTanda(doc.aturan);
  const j = doc.jumlah;
  $("kinerja-keterangan").textContent = angka(j.enumerator) + " enumerator di " + doc.wilayah.nama + " · tingkat tolak wilayah " +
    (j.persen_tingkat_tolak || "-") + " · " + angka(j.tolak_tinggi) + " bertanda tolak tinggi. Hari aktif dihitung menurut " +
    "zona waktu provinsi rekaman (WIB, WITA, WIT).";
  const start = page * LIMIT;
  $("tabel-kinerja").querySelector("tbody").replaceChildren(...doc.items.map((r, i) => row(start + i + 1, r, label)));
  $("kinerja-posisi").textContent = doc.items.length ? (start + 1) + "\u2013" + (start + doc.items.length) + " dari " + angka(j.enumerator) : "";
  $("kinerja-sebelumnya").disabled = page === 0;
  $("kinerja-berikutnya").disabled = !doc.next_cursor;
  if (doc.next_cursor) cursors[page + 1] = doc.next_cursor;
  $("kinerja-aturan").replaceChildren(...Object.values(label).map(([nama, arti]) => el("li", nama + ": " + arti + ".")));
  say(doc.items.length ? "" : "Belum ada rekaman enumerator di wilayah ini pada periode " + doc.periode + ".");
}

async function load() {
  if (!shown) return;
  const n = ++seq;
  say("Memuat\u2026");
  try {
    const doc = await apiJson(PATH, {params: {periode: shown.periode, kode_wilayah: shown.wilayah, urut: $("kinerja-urut").value,
                                              limit: LIMIT, cursor: cursors[page] || ""}});
    if (n !== seq) return;
    render(doc);
  } catch (e) {
    if (n !== seq) return;
    $("tabel-kinerja").querySelector("tbody").replaceChildren();
    say(e instanceof ApiError ? e.message : "Tabel enumerator gagal dimuat: " + e.message);
  }
}

function reset() {
  cursors = [null];
  page = 0;
}

document.addEventListener("dasbor:tampil", (ev) => {
  const {periode, wilayah} = ev.detail;
  const section = $("kinerja");
  if (!wilayah) {
    // the table is per provinsi or kabupaten/kota: a nation has tens of thousands of enumerators
    shown = null;
    section.hidden = false;
    $("tabel-kinerja").querySelector("tbody").replaceChildren();
    $("kinerja-keterangan").textContent = "";
    $("kinerja-posisi").textContent = "";
    $("kinerja-aturan").replaceChildren();
    for (const id of ["kinerja-sebelumnya", "kinerja-berikutnya"]) $(id).disabled = true;
    say("Pilih provinsi atau kabupaten/kota untuk melihat kinerja enumerator.");
    return;
  }
  shown = {periode, wilayah};
  reset();
  section.hidden = false;
  load();
});
document.addEventListener("dasbor:lupa", () => {
  shown = null;
  seq++;
  reset();
  $("kinerja").hidden = true;
});

$("kinerja-urut").addEventListener("change", () => { reset(); load(); });
$("kinerja-sebelumnya").addEventListener("click", () => { if (page > 0) { page--; load(); } });
$("kinerja-berikutnya").addEventListener("click", () => { if (cursors[page + 1]) { page++; load(); } });

/** The whole table (every enumerator, not this page) as a file: fetched with the key, handed
 *  to the browser as a Blob under the server's file name. */
async function unduh(format) {
  if (!shown) return;
  try {
    await unduhBerkas(PATH, {periode: shown.periode, kode_wilayah: shown.wilayah, urut: $("kinerja-urut").value, format},
                      "kinerja-enumerator." + format);
  } catch (e) {
    say("Unduhan gagal: " + e.message);
  }
}
$("kinerja-unduh-xlsx").addEventListener("click", () => unduh("xlsx"));
$("kinerja-unduh-csv").addEventListener("click", () => unduh("csv"));
