/* Kemajuan pendataan on the dashboard (docs/kampanye.md): the cumulative chart with the target
 * line and the projection, the child wilayah most behind pace first, and the backlog's age.
 * Reads GET /api/v1/kampanye/kemajuan and /antrian-umur with the page's key; dashboard.js calls
 * `tampilkanKemajuan` after each choice (its one hook).
 *
 * The chart is an SVG this module draws (no chart library: docs/kampanye.md, charts). Lines are
 * told apart by their dash pattern and markers, not only by colour, so a grey print reads. */
import {$, angka, apiJson, el, gagal, tanggal, unduhBerkas} from "/static/kumkm/kumkm.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 760, H = 320, KIRI = 78, KANAN = 16, ATAS = 14, BAWAH = 40;
const HARI = 86400000;
const PROYEKSI = {tercapai: "tercapai", tepat_waktu: "tepat waktu", terlambat: "terlambat", tidak_diketahui: "tidak diketahui"};
const ALASAN = {tanpa_target: "belum ada target", tanpa_batas_waktu: "target tanpa batas waktu", tanpa_laju: "belum ada data 7 hari terakhir"};

let seq = 0;
let pilihan = null;  // {periode, kode_wilayah} on screen, for the downloads

/** "1234.57" (the API's exact decimal) -> "1.234,57". */
function desimal(s) {
  if (s === null || s === undefined) return "-";
  const [whole, frac] = s.split(".");
  const neg = whole.startsWith("-");
  return (neg ? "-" : "") + angka(Math.abs(Number(whole))) + (frac ? "," + frac : "");
}

/** An 8-place ratio string as "87,65%" (half-up from the string's digits, no float). */
function persenRasio(r) {
  if (r === null || r === undefined) return "-";
  const [whole, frac] = r.split(".");
  const scaled = BigInt(whole + frac);  // the ratio times 10^8
  const hundredths = (scaled + 5000n) / 10000n;  // the ratio in hundredths of a percent
  return angka(Number(hundredths / 100n)) + "," + String(hundredths % 100n).padStart(2, "0") + "%";
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The y-axis step for about five ticks: a whole number, as the counts are (a step of 2.5 or
 *  0.2 would print "2.5", an English decimal, or 0.6000000000000001). */
function niceStep(max) {
  const raw = max / 5;
  if (raw <= 1) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of mag >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

const ms = (iso) => Date.parse(iso + "T00:00:00Z");

/** The cumulative chart: masuk (solid, round markers at the ends), diterima (dashed), the target
 *  in force each day (dotted step), the projection from `sampai` at the 7-day pace (dash-dot)
 *  and the deadline (a vertical rule). */
export function gambar(doc) {
  const h = doc.harian;
  const proy = doc.proyeksi.tanggal && doc.proyeksi.status !== "tercapai" ? doc.proyeksi.tanggal : null;
  const batas = doc.target.batas_waktu;
  let akhir = ms(doc.sampai);
  for (const d of [proy, batas]) if (d) akhir = Math.max(akhir, ms(d));
  // a projection years away would flatten the campaign: draw at most a round past `sampai`
  akhir = Math.min(akhir, ms(doc.sampai) + 366 * HARI);
  const awal = ms(doc.dari);
  const target = doc.target.target;
  const puncak = Math.max(1, ...h.map((x) => x.kumulatif_masuk), ...h.map((x) => x.target || 0), target || 0);
  const step = niceStep(puncak);
  const atas = Math.ceil(puncak / step) * step;
  const x = (t) => KIRI + (W - KIRI - KANAN) * (akhir === awal ? 0 : (t - awal) / (akhir - awal));
  const y = (n) => ATAS + (H - ATAS - BAWAH) * (1 - n / atas);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "grafik-kemajuan", role: "img", id: "svg-kemajuan"});
  const ringkas = "Kumulatif data masuk " + angka(doc.kumulatif.masuk) + (target !== null ? " dari target " + angka(target) : "") +
    " per " + tanggal(doc.sampai) + "; proyeksi " + teksProyeksi(doc.proyeksi);
  root.append(svg("title", {}, ringkas));
  for (let i = 0, v = 0; v <= atas; v = ++i * step) {  // multiplied, never summed: no drift
    root.append(svg("line", {x1: KIRI, x2: W - KANAN, y1: y(v), y2: y(v), class: "kisi"}));
    root.append(svg("text", {x: KIRI - 6, y: y(v) + 4, class: "label-y"}, angka(v)));
  }
  const hariTotal = Math.round((akhir - awal) / HARI);
  const langkah = Math.max(1, Math.ceil(hariTotal / 8));
  for (let i = 0; i <= hariTotal; i += langkah) {
    const t = awal + i * HARI;
    const iso = new Date(t).toISOString().slice(0, 10);
    root.append(svg("text", {x: x(t), y: H - BAWAH + 16, class: "label-x"}, tanggal(iso).slice(0, 5)));
  }
  root.append(svg("line", {x1: KIRI, x2: KIRI, y1: ATAS, y2: H - BAWAH, class: "sumbu"}));
  root.append(svg("line", {x1: KIRI, x2: W - KANAN, y1: H - BAWAH, y2: H - BAWAH, class: "sumbu"}));
  if (batas && ms(batas) <= akhir) {
    root.append(svg("line", {x1: x(ms(batas)), x2: x(ms(batas)), y1: ATAS, y2: H - BAWAH, class: "batas-waktu"}));
    root.append(svg("text", {x: x(ms(batas)) - 4, y: ATAS + 10, class: "label-batas"}, "batas waktu " + tanggal(batas)));
  }
  // the target in force each day: a step line, carried to the chart's end
  const tgt = h.filter((r) => r.target !== null);
  if (tgt.length) {
    let d = "";
    tgt.forEach((r, i) => {
      const t = ms(r.hari);
      d += (i === 0 ? "M" : "H" + x(t) + " V") + (i === 0 ? x(t) + " " + y(r.target) : y(r.target));
    });
    d += " H" + x(akhir);
    root.append(svg("path", {d, class: "garis target", "data-seri": "target"}));
  }
  const garis = (key, cls) => {
    const d = h.map((r, i) => (i === 0 ? "M" : "L") + x(ms(r.hari)).toFixed(1) + " " + y(r[key]).toFixed(1)).join(" ");
    root.append(svg("path", {d, class: "garis " + cls, "data-seri": cls}));
  };
  if (h.length) {
    garis("kumulatif_diterima", "diterima");
    garis("kumulatif_masuk", "masuk");
    const last = h[h.length - 1];
    root.append(svg("circle", {cx: x(ms(last.hari)), cy: y(last.kumulatif_masuk), r: 4, class: "titik masuk"}));
    if (proy && target !== null) {
      const tp = Math.min(ms(proy), akhir);
      const frac = (tp - ms(last.hari)) / (ms(proy) - ms(last.hari));
      const yEnd = last.kumulatif_masuk + (target - last.kumulatif_masuk) * (isFinite(frac) ? frac : 1);
      root.append(svg("path", {d: `M${x(ms(last.hari))} ${y(last.kumulatif_masuk)} L${x(tp)} ${y(yEnd)}`,
                               class: "garis proyeksi", "data-seri": "proyeksi"}));
      root.append(svg("rect", {x: x(tp) - 4, y: y(yEnd) - 4, width: 8, height: 8, class: "titik proyeksi"}));
    }
  }
  return root;
}

function teksProyeksi(p) {
  if (p.status === "tidak_diketahui") return "tidak diketahui (" + (ALASAN[p.alasan] || p.alasan) + ")";
  return PROYEKSI[p.status] + (p.tanggal ? " " + tanggal(p.tanggal) : "");
}

function sel(text, cls) {
  const td = el("td", text);
  if (cls) td.className = cls;
  return td;
}

function tabelTertinggal(doc) {
  const rows = doc.anak.map((a, i) => {
    const tr = document.createElement("tr");
    tr.dataset.kode = a.kode;
    const nama = el("td", a.nama, "nama");
    const status = a.lewat_batas_waktu ? "lewat batas waktu" : teksProyeksi(a.proyeksi);
    tr.append(sel(String(i + 1), "no"), nama, sel(angka(a.target), "angka"),
              sel(a.batas_waktu ? tanggal(a.batas_waktu) : "-"), sel(angka(a.masuk), "angka"),
              sel(a.persen_masuk_vs_target || "-", "angka"), sel(desimal(a.laju_7_hari), "angka"),
              sel(desimal(a.laju_dibutuhkan), "angka"), sel(persenRasio(a.rasio_laju), "angka"), sel(status));
    if (a.lewat_batas_waktu || (a.rasio_laju !== null && Number(a.rasio_laju) < 1)) tr.className = "tertinggal";
    return tr;
  });
  $("tabel-tertinggal").tBodies[0].replaceChildren(...rows);
  $("bagian-tertinggal").hidden = doc.anak.length === 0;
}

function ringkasan(doc) {
  const l = doc.laju;
  $("kemajuan-laju7").textContent = desimal(l.laju_7_hari) + " per hari";
  $("kemajuan-laju14").textContent = "14 hari: " + desimal(l.laju_14_hari) + " per hari";
  $("kemajuan-dibutuhkan").textContent = l.laju_dibutuhkan === null ? "-" : desimal(l.laju_dibutuhkan) + " per hari";
  $("kemajuan-sisa").textContent = l.sisa_target === null ? "tanpa target" :
    "sisa " + angka(l.sisa_target) + (l.sisa_hari !== null ? " dalam " + angka(l.sisa_hari) + " hari" : "");
  $("kemajuan-proyeksi").textContent = teksProyeksi(doc.proyeksi);
  $("kemajuan-batas").textContent = doc.target.batas_waktu ? "batas waktu " + tanggal(doc.target.batas_waktu) : "tanpa batas waktu";
  $("kemajuan-keterangan").textContent = "Hari menurut " + (doc.menurut === "tangkap" ? "tanggal pencacahan" : "tanggal diterima server") +
    ", zona " + (doc.zona || "masing-masing provinsi") + "; " + tanggal(doc.dari) + " s.d. " + tanggal(doc.sampai) +
    ". Laju dihitung sampai " + tanggal(doc.akhir_laju) + ".";
}

function tabelUmur(doc) {
  const baris = (r, no, kode, nama) => {
    const tr = document.createElement("tr");
    if (kode) tr.dataset.kode = kode;
    tr.append(sel(no, "no"), el("td", nama, "nama"), sel(angka(r.belum_diverifikasi), "angka"),
              sel(desimal(r.median_hari), "angka"), sel(desimal(r.p90_hari), "angka"), sel(desimal(r.terlama_hari), "angka"),
              sel(angka(r.lewat_ambang), r.lewat_ambang ? "angka antrian" : "angka"));
    return tr;
  };
  $("tabel-umur").tBodies[0].replaceChildren(...doc.rows.map((r, i) => baris(r, String(i + 1), r.kode, r.nama)));
  const total = baris(doc.jumlah, "", null, "Jumlah");
  total.className = "jumlah";
  $("tabel-umur").tFoot.replaceChildren(total);
  $("kolom-ambang").textContent = "Lebih dari " + angka(doc.ambang_hari) + " hari";
}

/** The hook dashboard.js calls with the choice on screen (wilayah "" = nasional). A kecamatan
 *  has no progress of its own here: the section then says so. */
export async function tampilkanKemajuan({periode, wilayah}) {
  const mine = ++seq;
  const kode = wilayah || "";
  if (kode.split(".").length > 2) {
    $("kemajuan").hidden = true;
    return;
  }
  const ambang = Number($("ambang").value) || 7;
  const menurut = $("menurut").value;
  try {
    const t0 = performance.now();
    const [doc, umur] = await Promise.all([
      apiJson("/kampanye/kemajuan", {params: {periode, kode_wilayah: kode, menurut}}),
      apiJson("/kampanye/antrian-umur", {params: {periode, kode_wilayah: kode, ambang_hari: ambang}}),
    ]);
    if (mine !== seq) return;
    pilihan = {periode, kode_wilayah: kode, menurut, ambang_hari: ambang};
    $("grafik-kemajuan").replaceChildren(gambar(doc));
    $("grafik-kemajuan").dataset.ms = String(Math.round(performance.now() - t0));
    ringkasan(doc);
    tabelTertinggal(doc);
    tabelUmur(umur);
    $("kemajuan").hidden = false;
  } catch (e) {
    if (mine !== seq) return;
    $("kemajuan").hidden = true;
    gagal(e, "Kemajuan pendataan: ");
  }
}

async function unduh(tabel, format) {
  if (!pilihan) return;
  const path = tabel === "umur" ? "/kampanye/antrian-umur" : "/kampanye/kemajuan";
  const params = tabel === "umur"
    ? {periode: pilihan.periode, kode_wilayah: pilihan.kode_wilayah, ambang_hari: pilihan.ambang_hari, format}
    : {periode: pilihan.periode, kode_wilayah: pilihan.kode_wilayah, menurut: pilihan.menurut, tabel, format};
  try {
    await unduhBerkas(path, params, tabel + "." + format);
  } catch (e) {
    gagal(e, "Unduhan gagal: ");
  }
}

for (const button of document.querySelectorAll("[data-unduh-kemajuan]")) {
  button.addEventListener("click", () => unduh(button.dataset.unduhKemajuan, button.dataset.format));
}
for (const id of ["menurut", "ambang"]) {
  $(id).addEventListener("change", () => { if (pilihan) tampilkanKemajuan({periode: pilihan.periode, wilayah: pilihan.kode_wilayah}); });
}
