/* The dashboard's cumulative chart drawn with uPlot instead of the page's own SVG, for
 * `./dev bench grafik` only (bench/grafik.py): the same series, styles and labels as
 * gambar() in app/dashboard/static/kemajuan.js, so the two are weighed and timed on equal
 * terms. uPlot is the global of its IIFE build (uplot.iife.min.js, loaded before this module).
 *
 * Grey print as in the SVG: the series differ by dash pattern and width, not only colour. */
import {angka, tanggal} from "/static/kumkm/kumkm.js";

const HARI = 86400;
const dtk = (iso) => Date.parse(iso + "T00:00:00Z") / 1000;
const iso = (s) => new Date(s * 1000).toISOString().slice(0, 10);
const warna = (nama) => getComputedStyle(document.documentElement).getPropertyValue(nama).trim() || "#000";

/** The chart for one /kampanye/kemajuan answer, into `box` (uPlot draws into a canvas it makes). */
export function gambarUplot(doc, box) {
  const h = doc.harian;
  const proy = doc.proyeksi.tanggal && doc.proyeksi.status !== "tercapai" ? doc.proyeksi.tanggal : null;
  const batas = doc.target.batas_waktu;
  const sampai = dtk(doc.sampai);
  let akhir = sampai;
  for (const d of [proy, batas]) if (d) akhir = Math.max(akhir, dtk(d));
  akhir = Math.min(akhir, sampai + 366 * HARI);
  // one x for each day of the answer, then the projection's end and the chart's end
  const xs = h.map((r) => dtk(r.hari));
  const masuk = h.map((r) => r.kumulatif_masuk);
  const diterima = h.map((r) => r.kumulatif_diterima);
  const target = h.map((r) => r.target);
  const proyeksi = h.map(() => null);
  const last = h[h.length - 1];
  if (last && proy && doc.target.target !== null) {
    proyeksi[h.length - 1] = last.kumulatif_masuk;
    const tp = Math.min(dtk(proy), akhir);
    const frac = (tp - dtk(last.hari)) / (dtk(proy) - dtk(last.hari));
    xs.push(tp);
    masuk.push(null); diterima.push(null); target.push(last.target);
    proyeksi.push(last.kumulatif_masuk + (doc.target.target - last.kumulatif_masuk) * (isFinite(frac) ? frac : 1));
  }
  if (xs[xs.length - 1] < akhir) {
    xs.push(akhir);
    masuk.push(null); diterima.push(null); target.push(last ? last.target : null); proyeksi.push(null);
  }
  const teks = warna("--teks"), abu = warna("--abu");
  const sumbu = {stroke: abu, font: "11px sans-serif", grid: {stroke: "#e3e7eb", width: 1}, ticks: {stroke: "#aab3bd", width: 1}};
  const opts = {
    // the SVG scales with its panel (viewBox 760 x 320): the same size here, so both paint as many pixels
    width: box.clientWidth || 760,
    height: Math.round((box.clientWidth || 760) * 320 / 760),
    legend: {show: false},  // the page has its own legend (the same for both charts)
    scales: {x: {time: false, range: [dtk(doc.dari), akhir]}, y: {range: (u, min, max) => [0, Math.max(1, max) * 1.05]}},
    axes: [
      {...sumbu, values: (u, splits) => splits.map((s) => tanggal(iso(s)).slice(0, 5)),
       incrs: [HARI, 7 * HARI, 14 * HARI, 28 * HARI, 56 * HARI]},
      {...sumbu, size: 78, values: (u, splits) => splits.map((v) => angka(v))},
    ],
    series: [
      {},
      {label: "Data masuk", stroke: warna("--biru"), width: 3},
      {label: "Diterima", stroke: warna("--hijau"), width: 2.5, dash: [8, 4]},
      {label: "Target", stroke: teks, width: 2, dash: [2, 3], paths: uPlot.paths.stepped({align: 1})},
      {label: "Proyeksi", stroke: warna("--jingga"), width: 2.5, dash: [10, 4, 2, 4], spanGaps: true},
    ],
    hooks: {
      draw: [(u) => {
        if (!batas || dtk(batas) > akhir) return;
        const ctx = u.ctx, px = u.valToPos(dtk(batas), "x", true), dpr = devicePixelRatio || 1;
        ctx.save();
        ctx.setLineDash([]);
        ctx.strokeStyle = teks; ctx.lineWidth = 1.5 * dpr;
        ctx.beginPath(); ctx.moveTo(px, u.bbox.top); ctx.lineTo(px, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.fillStyle = teks; ctx.font = `${11 * dpr}px sans-serif`; ctx.textAlign = "right";
        ctx.fillText("batas waktu " + tanggal(batas), px - 4 * dpr, u.bbox.top + 12 * dpr);
        ctx.restore();
      }],
    },
  };
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", "Kumulatif data masuk " + angka(doc.kumulatif.masuk) +
    (doc.target.target !== null ? " dari target " + angka(doc.target.target) : "") + " per " + tanggal(doc.sampai));
  return new uPlot(opts, [xs, masuk, diterima, target, proyeksi], box);
}
