/* bench/grafik.py: the Chart.js chart's time to first chart, as ukur_svg.js measures the SVG's. */
import {gambarChartjs} from "/bench/kemajuan_chartjs.js";
import {selesai} from "/bench/ukur.js";

const doc = await (await fetch("/bench/data.json")).json();
const t0 = performance.now();
gambarChartjs(doc, document.getElementById("grafik-kemajuan"));
selesai(t0, "#grafik-kemajuan canvas");
