/* The verifikasi page's map (docs/kampanye.md, Peta): the records of the kabupaten/kota the
 * queue shows, every status, on the kit's map (/static/kumkm/peta.js). A click on a point opens
 * the record in the detail beside the queue, as a search by its id does. antrian.js calls
 * `petaVerifikasi` when the queue is loaded anew. */
import {$} from "/static/kumkm/kumkm.js";
import {Peta} from "/static/kumkm/peta.js";

let peta = null;
let shown = "";  // periode|kabkota on the map: the queue's other filters do not move it

export function petaVerifikasi(periode, kabkota, buka) {
  if (!kabkota) return;
  const key = periode + "|" + kabkota;
  if (key === shown) return;
  shown = key;
  $("peta-panel").hidden = false;
  if (!peta) peta = new Peta($("peta"), {keterangan: $("peta-keterangan"), buka: (id) => buka(id)});
  peta.tampilkan({periode, kode_wilayah: kabkota}).catch((e) => {
    shown = "";
    $("peta-keterangan").textContent = e.message || "Peta tidak dapat dimuat.";
  });
}
