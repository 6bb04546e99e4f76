/* bench/grafik.py: the dashboard's own SVG chart (gambar() of kemajuan.js, unchanged) timed
 * from the page's start to the drawn chart on screen. */
import {gambar} from "/dashboard/static/kemajuan.js";
import {selesai} from "/bench/ukur.js";

const doc = await (await fetch("/bench/data.json")).json();
const t0 = performance.now();
document.getElementById("grafik-kemajuan").replaceChildren(gambar(doc));
selesai(t0, "#svg-kemajuan");
