/* The dashboard's cumulative chart drawn with Chart.js 2.9 (the minified build PyPI carries, in
 * djangocms-charts), for `./dev bench grafik --chartjs DIR` only: the same series, dashes,
 * labels and deadline rule as gambar() in app/dashboard/static/kemajuan.js. Chart.js is the
 * global of Chart.min.js (loaded before this module); its CSS comes from Chart.min.css, since
 * the page's CSP refuses the style element it would inject. No animation: the first frame is
 * the whole chart, as the SVG's is. */
import {angka, tanggal} from "/static/kumkm/kumkm.js";

const HARI = 86400000;
const ms = (iso) => Date.parse(iso + "T00:00:00Z");
const iso = (t) => new Date(t).toISOString().slice(0, 10);
const warna = (nama) => getComputedStyle(document.documentElement).getPropertyValue(nama).trim() || "#000";

export function gambarChartjs(doc, box) {
  Chart.platform.disableCSSInjection = true;
  const h = doc.harian;
  const proy = doc.proyeksi.tanggal && doc.proyeksi.status !== "tercapai" ? doc.proyeksi.tanggal : null;
  const batas = doc.target.batas_waktu;
  let akhir = ms(doc.sampai);
  for (const d of [proy, batas]) if (d) akhir = Math.max(akhir, ms(d));
  akhir = Math.min(akhir, ms(doc.sampai) + 366 * HARI);
  const pts = (key) => h.map((r) => ({x: ms(r.hari), y: r[key]}));
  const garis = {fill: false, pointRadius: 0, lineTension: 0, borderWidth: 2.5};
  const sets = [
    {...garis, label: "Data masuk", data: pts("kumulatif_masuk"), borderColor: warna("--biru"), borderWidth: 3},
    {...garis, label: "Diterima", data: pts("kumulatif_diterima"), borderColor: warna("--hijau"), borderDash: [8, 4]},
    {...garis, label: "Target",
     data: [...pts("target").filter((p) => p.y !== null), ...(h.length ? [{x: akhir, y: h[h.length - 1].target}] : [])],
     borderColor: warna("--teks"), borderWidth: 2, borderDash: [2, 3], steppedLine: "after"},
  ];
  const last = h[h.length - 1];
  if (last && proy && doc.target.target !== null) {
    const tp = Math.min(ms(proy), akhir);
    const frac = (tp - ms(last.hari)) / (ms(proy) - ms(last.hari));
    const yEnd = last.kumulatif_masuk + (doc.target.target - last.kumulatif_masuk) * (isFinite(frac) ? frac : 1);
    sets.push({...garis, label: "Proyeksi", data: [{x: ms(last.hari), y: last.kumulatif_masuk}, {x: tp, y: yEnd}],
               borderColor: warna("--jingga"), borderDash: [10, 4, 2, 4]});
  }
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "Kumulatif data masuk " + angka(doc.kumulatif.masuk) +
    (doc.target.target !== null ? " dari target " + angka(doc.target.target) : "") + " per " + tanggal(doc.sampai));
  box.replaceChildren(canvas);
  const teks = warna("--teks");
  return new Chart(canvas, {
    type: "line",
    data: {datasets: sets},
    options: {
      animation: {duration: 0},
      aspectRatio: 760 / 320,
      legend: {display: false},  // the page has its own legend
      scales: {
        xAxes: [{type: "linear",
                 ticks: {min: ms(doc.dari), max: akhir, stepSize: 14 * HARI, callback: (v) => tanggal(iso(v)).slice(0, 5)}}],
        yAxes: [{ticks: {beginAtZero: true, callback: (v) => angka(v)}}],
      },
    },
    plugins: [{
      afterDraw(chart) {
        if (!batas || ms(batas) > akhir) return;
        const ctx = chart.ctx, area = chart.chartArea, px = chart.scales["x-axis-0"].getPixelForValue(ms(batas));
        ctx.save();
        ctx.setLineDash([]);
        ctx.strokeStyle = teks; ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
        ctx.fillStyle = teks; ctx.font = "11px sans-serif"; ctx.textAlign = "right";
        ctx.fillText("batas waktu " + tanggal(batas), px - 4, area.top + 12);
        ctx.restore();
      },
    }],
  });
}
