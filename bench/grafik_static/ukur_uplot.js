/* bench/grafik.py: the uPlot chart's time to first chart, as ukur_svg.js measures the SVG's. */
import {gambarUplot} from "/bench/kemajuan_uplot.js";
import {selesai} from "/bench/ukur.js";

const doc = await (await fetch("/bench/data.json")).json();
const t0 = performance.now();
gambarUplot(doc, document.getElementById("grafik-kemajuan"));
selesai(t0, "#grafik-kemajuan canvas");
