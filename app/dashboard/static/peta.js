/* The dashboard's map (docs/kampanye.md, Peta): the records of the kabupaten/kota on screen,
 * on the kit's map (/static/kumkm/peta.js). A click on a point opens the record here, read
 * from GET /api/v1/submissions/{id} with the dinas key (its personal data masked or not by the
 * service's own rule). dashboard.js says when it shows a wilayah (the `dasbor:tampil` event). */
import {$, apiJson, el, gagal, tanggal} from "/static/kumkm/kumkm.js";
import {Peta} from "/static/kumkm/peta.js";

let peta = null;

const BIDANG = [
  ["nama_usaha", "Nama usaha"], ["nama_koperasi", "Nama koperasi"], ["nama_pemilik", "Nama pemilik"],
  ["alamat", "Alamat"], ["kbli", "KBLI"], ["status_tempat", "Status tempat usaha"],
];

async function bukaRekaman(id) {
  const box = $("peta-rekaman");
  try {
    const rec = await apiJson("/submissions/" + encodeURIComponent(id));
    const rows = [["ID rekaman", rec.submission_id], ["Status", rec.status], ["Versi", String(rec.version)],
                  ["Kode wilayah", rec.kode_wilayah], ["Enumerator", rec.enumerator_id],
                  ["Dicatat", tanggal(rec.captured_at)]];
    for (const [k, label] of BIDANG) if (rec.data[k] !== undefined) rows.push([label, String(rec.data[k])]);
    if (rec.data.lokasi) {
      rows.push(["Lokasi", rec.data.lokasi.lat + ", " + rec.data.lokasi.lon + (rec.pii_masked ? " (dibulatkan sekitar 1 km)" : "")]);
    }
    const dl = document.createElement("dl");
    for (const [k, v] of rows) dl.append(el("dt", k), el("dd", v));
    box.replaceChildren(el("h4", "Rekaman yang dipilih"), dl);
    box.hidden = false;
  } catch (e) {
    gagal(e, "Rekaman tidak dapat dibuka: ");
  }
}

/** The map for `choice` ({periode, wilayah}): a kabupaten/kota's records; any other wilayah
 *  gets a note that the map is per kabupaten/kota. */
export async function petaDasbor(choice) {
  const panel = $("peta-panel");
  panel.hidden = false;
  $("peta-rekaman").hidden = true;
  const kabkota = /^\d{2}\.\d{2}$/.test(choice.wilayah || "");
  $("peta").hidden = !kabkota;
  if (!kabkota) {
    if (peta) peta.kosongkan();
    $("peta-keterangan").textContent = "Peta lokasi tersedia per kabupaten/kota: pilih kabupaten/kota lalu Tampilkan.";
    return;
  }
  if (!peta) peta = new Peta($("peta"), {keterangan: $("peta-keterangan"), buka: bukaRekaman});
  try {
    await peta.tampilkan({periode: choice.periode, kode_wilayah: choice.wilayah});
  } catch (e) {
    $("peta-keterangan").textContent = e.message || "Peta tidak dapat dimuat.";
  }
}

document.addEventListener("dasbor:tampil", (ev) => { petaDasbor(ev.detail); });
document.addEventListener("dasbor:lupa", () => {
  if (peta) peta.kosongkan();
  $("peta-rekaman").hidden = true;
});
