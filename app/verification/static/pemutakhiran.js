/* A follow-up visit on the work page (docs/pemutakhiran.md): a record that names the entity it
 * updates (its `id_kumkm`, picked from the list on the phone) is shown beside that entity as it
 * is now (GET /api/v1/kumkm/{id_kumkm}: each field's latest accepted value, personal data masked
 * by the records' rule), with the conflict when there is one: the entity changed after the
 * phone's list was made (versi_lama), or another follow-up of it from the same list came first
 * (bersamaan). The verifikator's decision on the record settles the conflict: accepted, the
 * record becomes the entity's latest round; rejected, the entity stays as it is. */
import {$, angka, apiJson, el} from "/static/kumkm/kumkm.js";
import {state} from "./keadaan.js";

const KONFLIK = {
  versi_lama: "Konflik: entitas ini sudah berubah sesudah daftar di ponsel dibuat",
  bersamaan: "Konflik: kunjungan ulang lain atas entitas ini dari daftar yang sama masuk lebih dulu",
};
const KEADAAN = {aktif: "aktif", tutup: "tutup", pindah: "pindah"};
// The fields compared, in the questionnaire's order; personal data only as the API shows it.
const FIELDS = [
  ["nama_usaha", "Nama usaha"], ["nama_koperasi", "Nama koperasi"], ["nama_pemilik", "Nama pemilik"],
  ["nik_pemilik", "NIK pemilik"], ["nib", "NIB"], ["alamat", "Alamat"], ["kbli", "KBLI"],
  ["skala_usaha", "Skala usaha"], ["modal_usaha", "Modal usaha (Rp)"], ["hasil_penjualan_tahunan", "Hasil penjualan setahun (Rp)"],
  ["nomor_badan_hukum", "Nomor badan hukum"], ["volume_usaha", "Volume usaha (Rp)"], ["kode_wilayah", "Kode wilayah"],
];

/** The queue's badge of a record: a follow-up visit, marked when it is a conflict. */
export function lencanaPemutakhiran(it) {
  if (!it.pemutakhiran) return null;
  return it.pemutakhiran.konflik
    ? el("span", "konflik pemutakhiran", "lencana konflik")
    : el("span", "kunjungan ulang", "lencana ulang");
}

function nilai(v) {
  if (v === null || v === undefined || v === "") return "-";
  if (typeof v === "number") return angka(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Fills the detail's follow-up section for record `rec` (hidden for a census record). */
export async function tampilkanPemutakhiran(rec, seq) {
  const section = $("bagian-pemutakhiran");
  const id = rec.data.id_kumkm;
  if (!id) { section.hidden = true; return; }
  const item = state.items.find((x) => x.submission_id === rec.submission_id);
  const pm = item ? item.pemutakhiran : null;
  const entitas = await apiJson("/kumkm/" + encodeURIComponent(id)).catch(() => null);
  if (seq !== state.detailSeq) return;
  section.hidden = false;
  const konflik = pm && pm.konflik;
  $("pemutakhiran-konflik").hidden = !konflik;
  if (konflik) {
    $("pemutakhiran-konflik").textContent = KONFLIK[konflik] + " (versi dasar " + nilai(pm.versi_dasar) + ", versi saat diterima " +
      pm.versi_entitas + ", versi sekarang " + nilai(pm.versi_sekarang) + "). Bandingkan kedua sisi; keputusan atas rekaman ini " +
      "menyelesaikan konflik: diterima, rekaman ini menjadi putaran terbaru entitas; ditolak, entitas tetap seperti sekarang.";
  }
  $("pemutakhiran-keterangan").textContent = "Kunjungan ulang atas " + id + " · keadaan usaha: " +
    (KEADAAN[rec.data.keadaan_usaha] || nilai(rec.data.keadaan_usaha)) +
    (entitas ? " · entitas versi " + entitas.versi : " · entitas tidak dapat dibaca dengan kunci ini");
  const head = el("tr");
  head.append(el("th", "Isian"), el("th", "Rekaman ini"), el("th", "Entitas sekarang"));
  $("tabel-pemutakhiran").tHead.replaceChildren(head);
  const profil = entitas ? entitas.profil || {} : {};
  const mine = {...rec.data, skala_usaha: rec.skala_usaha};
  const rows = FIELDS.filter(([f]) => mine[f] !== undefined || profil[f] !== undefined).map(([f, label]) => {
    const tr = el("tr");
    const theirs = profil[f] ? profil[f].nilai : undefined;
    const td = el("td", nilai(theirs) + (profil[f] && profil[f].periode ? " (" + profil[f].periode + ")" : ""));
    if (nilai(theirs) !== nilai(mine[f])) td.classList.add("beda");
    tr.append(el("th", label), el("td", nilai(mine[f])), td);
    return tr;
  });
  $("tabel-pemutakhiran").tBodies[0].replaceChildren(...rows);
}
