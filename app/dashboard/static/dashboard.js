/* Dasbor capaian pendataan: reads /api/v1 with the key the user pastes. The key, the calls, the
 * message line and the formats are the page kit's (app/web/pages/static/kumkm.js), the chained
 * wilayah selects too (wilayah.js); this module holds what is the dashboard's own.
 *
 * Everything the API returns is put on the page with textContent, never innerHTML (`el`).
 * Percentages are the API's own `persen` strings (rounded from the exact fraction on the
 * server), so the page can never disagree with the CSV or the JSON. */
import {$, angka, api, apiJson, el, gagal, isoDate, keepInUrl, letakData, mulai, periodeData, pesan, pilihPeriode,
  showKeySaved, tanggal, unduhBerkas} from "/static/kumkm/kumkm.js";
import {PilihanWilayah, isiPilihan, wilayahDi} from "/static/kumkm/wilayah.js";
// the dashboard's own sections, each told what is on screen by the events below
import "./kinerja.js";
import "./peta.js";
import {tampilkanKemajuan} from "./kemajuan.js";

const LABEL_TINGKAT = {provinsi: "Provinsi", kabkota: "Kabupaten/Kota", kecamatan: "Kecamatan", desa: "Desa/Kelurahan"};

let requestSeq = 0;  // a slow answer for an earlier choice must not overwrite a newer one
let current = null;  // {periode, wilayah, as_of} of the table on screen, for the downloads
let me = null;       // GET /api/v1/me: the key's role, wilayah and actions

/** num/den as "12,34%", rounded half-up in integers like the server's `persen`; null when den is 0. */
function persen(num, den) {
  if (!den) return null;
  const scaled = Math.floor((2 * num * 10000 + den) / (2 * den));  // hundredths of a percent
  const whole = Math.floor(scaled / 100);
  const frac = String(scaled % 100).padStart(2, "0");
  return angka(whole) + "," + frac + "%";
}

// ------------------------------------------------------------------ messages

const PERAN = {enumerator: "enumerator", verifikator: "verifikator", dinas: "dinas", walidata: "walidata",
               admin: "admin"};
const ISIAN = {periode: "Periode", wilayah: "Wilayah", as_of: "Target berlaku per", tingkat: "Tingkat",
               format: "Format berkas"};

function areaKunci() {
  return me && me.wilayah ? me.wilayah.nama : "seluruh Indonesia";
}

/** Said before any report is asked for when the key's role may not read reports, and when the
 *  service answers role-forbidden. */
function pesanPeran(role) {
  return "Kunci ini berperan " + (PERAN[role] || role) + ": peran ini tidak dapat membuka laporan capaian " +
         "pendataan. Laporan dibuka dengan kunci berperan verifikator, dinas, walidata atau admin.";
}

/** A failed call in words a dinas officer can act on (the kit says the rest: a rejected key, a
 *  busy service), so a role that may not read reports is not told its area is too small. */
function kata(status, body) {
  const code = body.code || "";
  if (code === "role-forbidden") return pesanPeran(me ? me.role : "");
  if (code === "outside-scope") {
    return "Wilayah yang diminta berada di luar cakupan kunci ini. Kunci ini hanya mencakup " + areaKunci() +
           " dan wilayah di dalamnya: pilih wilayah dari daftar.";
  }
  if (status === 403) return "Kunci ini tidak berhak membuka data ini.";
  if (code === "invalid-input" || status === 422) {
    const fields = (body.errors || []).map((e) => ISIAN[e.field] || e.field);
    return "Pilihan tidak dapat dipakai" + (fields.length ? ": periksa isian " + fields.join(", ") : "") + ".";
  }
  if (status === 404) return "Data yang diminta tidak ditemukan.";
  return null;
}

// ------------------------------------------------------------------ wilayah choices

// provinsi -> kabupaten/kota, chained by the kit (wilayah.js)
const pilihan = new PilihanWilayah([{select: $("provinsi"), semua: "Nasional"},
                                    {select: $("kabkota"), semua: "Semua kabupaten/kota"}]);

/** Only what the key may see: a national key chooses among Nasional and the 38 provinsi; a
 *  provinsi key gets its provinsi (fixed) and its kabupaten/kota; a kabupaten/kota key its own. */
async function loadWilayah() {
  const scope = me.wilayah;
  if (!scope) {
    await pilihan.isi(0, null);
  } else if (scope.level === 1) {
    pilihan.tetap(0, [scope]);
    await pilihan.isi(1, scope.kode);
  } else {
    pilihan.tetap(0, (await wilayahDi(null)).filter((w) => w.kode === scope.kode.slice(0, 2)));
    pilihan.tetap(1, [scope]);
  }
  $("tampilkan").disabled = false;
}

function chosen() {
  return {
    periode: $("periode").value,
    wilayah: pilihan.nilai(),
    as_of: $("as-of").value.trim(),
  };
}

// ------------------------------------------------------------------ rendering

function tableRow(no, r, isTotal) {
  const tr = document.createElement("tr");
  if (isTotal) tr.className = "jumlah";
  if (r.kode) tr.dataset.kode = r.kode;
  tr.append(el("td", no, "no"));
  tr.append(el(isTotal ? "th" : "td", r.nama, "nama"));
  const cols = [
    ["target", angka(r.target)], ["masuk", angka(r.masuk)],
    ["belum_diverifikasi", angka(r.belum_diverifikasi)], ["diterima", angka(r.diterima)],
    ["ditolak", angka(r.ditolak)], ["total_terverifikasi", angka(r.total_terverifikasi)],
    ["masuk_vs_target", r.persen.masuk_vs_target || "-"],
    ["diterima_vs_target", r.persen.diterima_vs_target || "-"],
    ["diterima_vs_masuk", r.persen.diterima_vs_masuk || "-"],
  ];
  for (const [field, text] of cols) {
    const td = el("td", text, "angka");
    td.dataset.kolom = field;
    if (field === "belum_diverifikasi" && r.belum_diverifikasi > 0) td.classList.add("antrian");
    tr.append(td);
  }
  return tr;
}

function renderTable(doc) {
  $("kolom-wilayah").textContent = LABEL_TINGKAT[doc.tingkat];
  const body = document.querySelector("#tabel-capaian tbody");
  body.replaceChildren(...doc.rows.map((r, i) => tableRow(String(i + 1), r, false)));
  document.querySelector("#tabel-capaian tfoot").replaceChildren(tableRow("", doc.jumlah, true));
}

/** A step of 1, 2 or 5 times a power of ten giving about four grid lines up to max. */
function niceStep(max) {
  const raw = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** Furthest behind target first, so the kabupaten/kota that need a push head the chart;
 *  rows without a target go last. The table keeps the official code order. */
function behindFirst(rows) {
  const key = (r) => (r.masuk_vs_target === null ? Infinity : parseFloat(r.masuk_vs_target));
  return rows.slice().sort((a, b) => key(a) - key(b));
}

/** Horizontal bars with CSS: the page stays readable at any width without a chart library.
 *  Masuk and diterima are bars; the target is a vertical mark on the same scale. */
function renderChart(doc) {
  const box = $("grafik");
  const peak = Math.max(1, ...doc.rows.map((r) => Math.max(r.masuk, r.target || 0)));
  const step = niceStep(peak);
  const top = Math.ceil(peak / step) * step;
  const pct = (n) => (100 * n / top) + "%";
  const rows = behindFirst(doc.rows.filter((r) => r.target !== null || r.masuk > 0)).map((r) => {
    const row = document.createElement("div");
    row.className = "batang-baris";
    if (r.kode) row.dataset.kode = r.kode;
    const label = document.createElement("div");
    label.className = "batang-label";
    label.append(el("span", r.nama, "nama"));
    const detail = angka(r.masuk) + " masuk · " + angka(r.diterima) + " diterima · target " +
      (r.target === null ? "belum ada" : angka(r.target)) +
      (r.persen.masuk_vs_target ? " (" + r.persen.masuk_vs_target + ")" : "");
    label.append(el("span", detail, "rinci"));
    const lane = document.createElement("div");
    lane.className = "batang-jalur";
    lane.setAttribute("role", "img");
    lane.setAttribute("aria-label", r.nama + ": " + detail);
    for (let v = step; v < top; v += step) {
      const grid = document.createElement("div");
      grid.className = "garis-bantu";
      grid.style.left = pct(v);
      lane.append(grid);
    }
    for (const [cls, n] of [["masuk", r.masuk], ["diterima", r.diterima]]) {
      const bar = document.createElement("div");
      bar.className = "batang " + cls;
      bar.style.width = pct(n);
      lane.append(bar);
    }
    if (r.target !== null) {
      const mark = document.createElement("div");
      mark.className = "penanda-target";
      mark.style.left = pct(r.target);
      lane.append(mark);
    }
    row.append(label, lane);
    return row;
  });
  const axis = document.createElement("div");
  axis.className = "sumbu";
  for (let v = 0; v <= top; v += step) {
    const tick = el("span", angka(v), "tik");
    tick.style.left = pct(v);
    axis.append(tick);
  }
  box.replaceChildren(...rows, axis);
}

function renderSummary(doc) {
  const j = doc.jumlah;
  $("ringkas-target").textContent = angka(j.target);
  const induk = doc.target_wilayah;
  const tingkat = LABEL_TINGKAT[doc.tingkat].toLowerCase();
  let catatan = "jumlah target per " + tingkat;
  if (doc.target_jumlah_dari === "wilayah") {
    catatan = "target " + doc.wilayah.nama + " sendiri (" + induk.dasar_hukum + "); belum ada target per " + tingkat;
  } else if (doc.target_jumlah_dari === null) {
    catatan = "belum ada target yang berlaku";
  } else if (induk) {
    catatan = "target " + doc.wilayah.nama + " sendiri: " + angka(induk.target) + " (" + induk.dasar_hukum + ")";
  }
  $("ringkas-target-catatan").textContent = catatan;
  $("ringkas-masuk").textContent = angka(j.masuk);
  $("ringkas-masuk-persen").textContent = j.persen.masuk_vs_target ? j.persen.masuk_vs_target + " dari target" : "target belum ada";
  $("ringkas-diterima").textContent = angka(j.diterima);
  $("ringkas-diterima-persen").textContent = j.persen.diterima_vs_target ? j.persen.diterima_vs_target + " dari target" : "target belum ada";
  $("ringkas-backlog").textContent = angka(j.belum_diverifikasi);
  const share = persen(j.belum_diverifikasi, j.masuk);
  $("ringkas-backlog-persen").textContent = share ? share + " dari data masuk menunggu verifikasi" : "tidak ada data masuk";
  $("ringkas-ditolak").textContent = angka(j.ditolak);
  $("ringkas-ditolak-catatan").textContent = "total terverifikasi " + angka(j.total_terverifikasi);

  const warn = $("peringatan-target");
  if (doc.target_sebagian) {
    const n = doc.rows.filter((r) => r.target === null && r.masuk > 0).length;
    warn.textContent = n + " " + tingkat + " yang sudah punya data masuk belum punya target yang berlaku pada " +
      tanggal(doc.as_of) + ": persentase pada baris Jumlah membandingkan semua data masuk dengan target sebagian.";
    warn.hidden = false;
  } else {
    warn.hidden = true;
  }
}

/** Usaha and koperasi (entities) beside the records they come from (GET /agregat/entitas). */
function renderRegistri(doc) {
  for (const [kapan, akhiran, keterangan] of [["periode_ini", "", "pada periode ini"],
                                              ["semua_periode", "-semua", "dari semua periode"]]) {
    const j = doc[kapan];
    $("registri-usaha" + akhiran).textContent = angka(j.usaha);
    $("registri-usaha" + akhiran + "-catatan").textContent = "dari " + angka(j.rekaman_umkm) + " data UMKM diterima " + keterangan;
    $("registri-koperasi" + akhiran).textContent = angka(j.koperasi);
    $("registri-koperasi" + akhiran + "-catatan").textContent = "dari " + angka(j.rekaman_koperasi) + " data koperasi diterima " + keterangan;
  }
  const belum = doc.semua_periode.belum_ditautkan;
  $("registri-belum").textContent = belum ? angka(belum) + " data diterima belum ditautkan ke usaha atau koperasi; " +
    "angka usaha dan koperasi akan bertambah setelah penautan selesai." : "";
  $("registri-belum").hidden = !belum;
}

function areaName(doc) {
  return doc.wilayah ? doc.wilayah.nama : "Nasional";
}

function render(doc) {
  $("judul").textContent = "Capaian pendataan " + areaName(doc) + " · periode " + doc.periode;
  $("keterangan").textContent = "Per " + LABEL_TINGKAT[doc.tingkat].toLowerCase() + "; target yang berlaku pada " +
    tanggal(doc.as_of) + ". Jumlah data dihitung langsung saat halaman dimuat.";
  renderSummary(doc);
  renderChart(doc);
  renderTable(doc);
  $("hasil").hidden = false;
}

async function show(wilayahAlamat) {
  const choice = chosen();
  if (wilayahAlamat !== undefined) choice.wilayah = wilayahAlamat;
  let asOf = "";
  if (choice.as_of) {
    asOf = isoDate(choice.as_of);
    if (!asOf) {
      pesan("Tanggal \u201cTarget berlaku per\u201d harus berformat hh/bb/tttt dan benar-benar ada, mis. 31/12/2022.");
      $("as-of").focus();
      return;
    }
  }
  const seq = ++requestSeq;
  pesan("Memuat\u2026", "info");
  try {
    const [resp, registri] = await Promise.all([
      api("/capaian-pendataan", {params: {periode: choice.periode, wilayah: choice.wilayah, as_of: asOf}}),
      apiJson("/agregat/entitas", {params: {periode: choice.periode, wilayah: choice.wilayah}}),
    ]);
    const doc = await resp.json();
    if (seq !== requestSeq) return;
    keepInUrl({periode: choice.periode, wilayah: choice.wilayah, as_of: asOf});
    if (doc.jumlah.masuk === 0 && doc.jumlah.target === null && doc.rows.every((r) => r.target === null)) {
      $("hasil").hidden = true;
      current = null;
      // say where the key's data is (asked again: records may have come in since the page opened)
      const data = await periodeData();
      if (seq !== requestSeq) return;
      pesan("Belum ada target maupun data masuk untuk " + areaName(doc) + " pada periode " + doc.periode + "." +
            letakData(data, doc.periode), "info");
      return;
    }
    current = {periode: choice.periode, wilayah: choice.wilayah, as_of: asOf};
    pesan("");
    render(doc);
    renderRegistri(registri);
    document.dispatchEvent(new CustomEvent("dasbor:tampil", {detail: {periode: choice.periode, wilayah: choice.wilayah}}));
    tampilkanKemajuan(current);  // the campaign's progress and backlog (kemajuan.js), loaded beside
  } catch (e) {
    if (seq !== requestSeq) return;
    $("hasil").hidden = true;
    current = null;
    gagal(e);
  }
}

// ------------------------------------------------------------------ downloads (CSV, Excel)

const UNDUH_PATH = {capaian: "/capaian-pendataan", keragaan: "/agregat/keragaan-koperasi", umkm: "/agregat/umkm"};

/** A plain link cannot send the Authorization header: fetch the file, then hand the browser a
 *  Blob under the file name the server chose. */
async function unduh(jenis, format) {
  if (!current) return;
  try {
    await unduhBerkas(UNDUH_PATH[jenis], {periode: current.periode, wilayah: current.wilayah,
                                          as_of: jenis === "capaian" ? current.as_of : "", format}, jenis + "." + format);
  } catch (e) {
    gagal(e, "Unduhan gagal: ");
  }
}

// ------------------------------------------------------------------ start

function showIdentity() {
  let text = "Kunci " + me.name + " \u00b7 peran " + (PERAN[me.role] || me.role) + " \u00b7 " +
    (me.wilayah ? me.wilayah.nama : "Nasional");
  if (me.expires_at) {
    // the day in WIB (UTC+7), where the registry dates everything
    const wib = new Date(Date.parse(me.expires_at) + 7 * 3600 * 1000).toISOString();
    text += " \u00b7 berlaku sampai " + tanggal(wib);
  }
  $("identitas").textContent = text;
}

/** After a key is given: who it is, then the page opens straight on the key's own wilayah
 *  (or the one in the page address) with only what the key may see. */
async function start() {
  requestSeq++;
  $("hasil").hidden = true;
  $("tampilkan").disabled = true;
  // the choices are refilled and set from the address until the start is over: say so, for a
  // screen reader and for whoever waits to choose (a choice made meanwhile would be reset)
  $("filter").setAttribute("aria-busy", "true");
  try {
    me = await apiJson("/me");
    showKeySaved();
    showIdentity();
    if (!me.actions.includes("report.read")) {
      for (const id of ["provinsi", "kabkota"]) isiPilihan($(id), [], "-");
      pesan(pesanPeran(me.role));
      return;
    }
    await loadWilayah();
    const params = new URLSearchParams(window.location.search);
    pilihPeriode($("periode"), params.get("periode"), params.get("periode") ? null : await periodeData());
    const asOf = params.get("as_of") || "";
    $("as-of").value = /^\d{4}-\d{2}-\d{2}$/.test(asOf) ? tanggal(asOf) : "";
    const wilayah = params.has("wilayah") ? params.get("wilayah") : (me.wilayah ? me.wilayah.kode : "");
    await pilihan.pilih(wilayah);
    // a wilayah from the address that the key does not cover is asked for as it is: the
    // service's answer (outside-scope) is then explained on the page
    await show(wilayah);
  } catch (e) {
    gagal(e);
  } finally {
    $("filter").removeAttribute("aria-busy");
  }
}

function forget() {
  document.dispatchEvent(new CustomEvent("dasbor:lupa"));
  me = null;
  current = null;
  requestSeq++;
  $("hasil").hidden = true;
  $("tampilkan").disabled = true;
  // the next key starts from its own wilayah, not the previous key's choice
  history.replaceState(null, "", window.location.pathname);
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  show();
});
for (const button of document.querySelectorAll("[data-unduh]")) {
  button.addEventListener("click", () => unduh(button.dataset.unduh, button.dataset.format));
}
mulai({start, forget, kata});
