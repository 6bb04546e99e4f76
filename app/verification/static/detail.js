/* The work page's detail (app/verification/static): one record as the verifikator decides on
 * it — its fields in the questionnaire's order, what changed between its last two versions, its
 * possible duplicates side by side, its history. The decision form sits in this panel and closes
 * whenever the panel shows another record; keputusan.js opens it and sends the decision. */
import {$, angka, apiJson, el} from "/static/kumkm/kumkm.js";
import {ALASAN_LABEL, lencanaStatus, state, waktu} from "./keadaan.js";
import {tampilkanPemutakhiran} from "./pemutakhiran.js";

// Labels of the record's fields; a field without one is shown by its name.
const FIELD_LABEL = {
  submission_id: "ID rekaman", periode: "Periode", jenis: "Jenis", enumerator_id: "Enumerator",
  kode_wilayah: "Kode wilayah", captured_at: "Dicatat pada", nama_usaha: "Nama usaha",
  nama_pemilik: "Nama pemilik", nik_pemilik: "NIK pemilik", alamat: "Alamat", telepon: "Telepon",
  nib: "NIB", kbli: "KBLI", status_tempat: "Status tempat usaha", modal_usaha: "Modal usaha (Rp)",
  hasil_penjualan_tahunan: "Hasil penjualan setahun (Rp)", aset: "Aset (Rp)",
  tenaga_kerja_laki_laki: "Tenaga kerja laki-laki", tenaga_kerja_perempuan: "Tenaga kerja perempuan",
  platform_digital: "Memakai platform digital", izin_usaha: "Punya izin usaha",
  nama_koperasi: "Nama koperasi", nik_koperasi: "Nomor induk koperasi", nomor_badan_hukum: "Nomor badan hukum",
  jenis_koperasi: "Jenis koperasi", kewenangan: "Kewenangan", aktif: "Aktif", tahun_rat_terakhir: "RAT terakhir",
  anggota_laki_laki: "Anggota laki-laki", anggota_perempuan: "Anggota perempuan",
  manajer_laki_laki: "Manajer laki-laki", manajer_perempuan: "Manajer perempuan",
  karyawan_laki_laki: "Karyawan laki-laki", karyawan_perempuan: "Karyawan perempuan",
  modal_sendiri: "Modal sendiri (Rp)", modal_luar: "Modal luar (Rp)", volume_usaha: "Volume usaha (Rp)",
  shu: "SHU (Rp)", izin_usaha_simpan_pinjam: "Izin usaha simpan pinjam", kesehatan: "Kesehatan",
  lokasi: "Lokasi", id_kumkm: "ID KUMKM (kunjungan ulang)", versi_dasar: "Versi entitas di daftar ponsel",
  keadaan_usaha: "Keadaan usaha",
};
const RUPIAH = new Set(["modal_usaha", "hasil_penjualan_tahunan", "aset", "modal_sendiri", "modal_luar",
                        "volume_usaha", "shu"]);
const DUPLICATE_FIELDS = ["nama_usaha", "nama_pemilik", "nik_pemilik", "alamat", "telepon", "kode_wilayah",
                          "enumerator_id", "captured_at", "kbli", "modal_usaha"];

function tampil(field, v) {
  if (v === null || v === undefined || v === "") return "-";
  if (typeof v === "boolean") return v ? "Ya" : "Tidak";
  if (typeof v === "number" && RUPIAH.has(field)) return angka(v);
  if (field === "captured_at") return waktu.format(new Date(v)) + " WIB";
  if (field === "lokasi" && typeof v === "object") return v.lat + ", " + v.lon;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** The decision form (keputusan.js) closes: no decision is left half-made for another record. */
export function closeForm() {
  state.mode = null;
  $("form-keputusan").hidden = true;
}

export function closeDetail() {
  state.detail = null;
  $("detail").hidden = true;
  closeForm();
}

/** Shows record `id` as it is now (its fields, the changes between its last two versions, its
 *  possible duplicates, its history) and answers it; null when another record was asked for
 *  meanwhile. `keepNotice` keeps the notices of a decision just made (a conflict's). */
export async function openDetail(id, keepNotice) {
  const seq = ++state.detailSeq;
  closeForm();
  if (!keepNotice) {
    $("konflik").hidden = true;
    $("hasil-keputusan").hidden = true;
  }
  const [rec, riwayat, versi] = await Promise.all([
    apiJson("/submissions/" + id), apiJson("/submissions/" + id + "/riwayat"), apiJson("/submissions/" + id + "/versi"),
  ]);
  let versions = null;
  if (versi.current_version > 1) {
    versions = await Promise.all([apiJson("/submissions/" + id + "/versi/" + (versi.current_version - 1)),
                                  apiJson("/submissions/" + id + "/versi/" + versi.current_version)]);
  }
  // null for a key that may not see which records they are (an enumerator's): none to show
  const dups = await Promise.all((rec.duplikat_dengan || []).slice(0, 5).map((d) => apiJson("/submissions/" + d).catch(() => null)));
  if (seq !== state.detailSeq) return null;
  state.detail = {id, status: rec.status, version: rec.version, record: rec, riwayat: riwayat.items};
  renderDetail(rec, riwayat.items, versions, dups.filter(Boolean));
  await tampilkanPemutakhiran(rec, seq);  // a follow-up visit beside its entity (pemutakhiran.js)
  return rec;
}

function renderDetail(rec, riwayat, versions, dups) {
  const d = rec.data;
  $("detail").hidden = false;
  $("detail").dataset.id = rec.submission_id;
  $("detail-nama").textContent = d.nama_usaha || d.nama_koperasi || "(tanpa nama)";
  $("detail-status").replaceWith(Object.assign(lencanaStatus(rec.status), {id: "detail-status"}));
  $("detail-ringkas").textContent = [rec.jenis === "koperasi" ? "Koperasi" : "UMKM",
    rec.skala_usaha ? "skala " + rec.skala_usaha : null, "versi " + rec.version,
    "ID " + rec.submission_id].filter(Boolean).join(" · ");
  $("tombol-terima").disabled = rec.status === "diterima";
  $("tombol-tolak").disabled = rec.status === "ditolak";
  $("tombol-terima").textContent = rec.status === "ditolak" ? "Batalkan penolakan, terima (t)" : "Terima (t)";
  $("tombol-tolak").textContent = rec.status === "diterima" ? "Batalkan penerimaan, tolak (x)" : "Tolak (x)";
  $("detail-pii").hidden = !rec.pii_masked;

  const body = $("detail-data").tBodies[0];
  body.replaceChildren(...inOrder(Object.keys(d)).filter((k) => k !== "lokasi").map((k) => {
    const v = d[k];
    const tr = el("tr");
    tr.dataset.isian = k;
    tr.append(el("th", FIELD_LABEL[k] || k), el("td", tampil(k, v)));
    return tr;
  }));
  $("detail-lokasi").textContent = d.lokasi
    ? "Lokasi (koordinat): " + d.lokasi.lat + ", " + d.lokasi.lon + (rec.pii_masked ? " (dibulatkan sekitar 1 km)" : "")
    : "Lokasi: tidak dicatat.";

  renderDuplicates(rec, dups);
  renderVersions(versions);
  $("riwayat").replaceChildren(...riwayat.map((h) => {
    const li = el("li");
    const what = h.aksi === "dibuat" ? "dibuat" : h.aksi === "dikoreksi" ? "dikoreksi (versi " + h.version + ")"
      : (h.dari || "?") + " → " + h.ke;
    li.append(el("strong", what), el("span", " oleh " + h.oleh + " · " + waktu.format(new Date(h.pada)) + " WIB", "kecil"));
    if (h.alasan_kode) li.append(el("span", " · alasan: " + (ALASAN_LABEL[h.alasan_kode] || h.alasan_kode), "kecil"));
    if (h.catatan) li.append(el("div", "“" + h.catatan + "”", "kecil catatan"));
    return li;
  }));
}

/** The record's fields in the order of the questionnaire (FIELD_LABEL), unknown ones last. */
function inOrder(keys) {
  const order = Object.keys(FIELD_LABEL);
  const at = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return keys.slice().sort((a, b) => at(a) - at(b) || a.localeCompare(b));
}

function renderDuplicates(rec, dups) {
  const section = $("bagian-duplikat");
  section.hidden = dups.length === 0;
  if (!dups.length) return;
  const head = el("tr");
  head.append(el("th", "Isian"), el("th", "Rekaman ini"));
  for (const dup of dups) {
    const th = el("th");
    th.dataset.id = dup.submission_id;
    th.append(el("span", dup.submission_id.slice(0, 8) + " "), lencanaStatus(dup.status));
    head.append(th);
  }
  $("tabel-duplikat").tHead.replaceChildren(head);
  const rows = DUPLICATE_FIELDS.map((f) => {
    const tr = el("tr");
    const mine = rec.data[f];
    tr.append(el("th", FIELD_LABEL[f] || f), el("td", tampil(f, mine)));
    for (const dup of dups) {
      const td = el("td", tampil(f, dup.data[f]));
      if (JSON.stringify(dup.data[f]) !== JSON.stringify(mine)) td.classList.add("beda");
      tr.append(td);
    }
    return tr;
  });
  $("tabel-duplikat").tBodies[0].replaceChildren(...rows);
}

function renderVersions(versions) {
  const section = $("bagian-versi");
  section.hidden = !versions;
  if (!versions) return;
  const [before, now] = versions;
  $("versi-keterangan").textContent = "Versi " + now.version + " (koreksi oleh " + now.dibuat_oleh + ", " +
    waktu.format(new Date(now.dibuat_pada)) + " WIB) dibandingkan dengan versi " + before.version +
    ". Isian yang berubah ditandai.";
  const head = el("tr");
  head.append(el("th", "Isian"), el("th", "Versi " + before.version), el("th", "Versi " + now.version));
  $("tabel-versi").tHead.replaceChildren(head);
  // the changed fields first, then the rest in the questionnaire's order
  const keys = inOrder([...new Set([...Object.keys(before.data), ...Object.keys(now.data)])]);
  keys.sort((a, b) => changed(b) - changed(a));
  function changed(k) { return JSON.stringify(before.data[k]) !== JSON.stringify(now.data[k]) ? 1 : 0; }
  $("tabel-versi").tBodies[0].replaceChildren(...keys.map((k) => {
    const tr = el("tr");
    tr.dataset.isian = k;
    if (changed(k)) tr.classList.add("berubah");
    tr.append(el("th", FIELD_LABEL[k] || k), el("td", tampil(k, before.data[k])), el("td", tampil(k, now.data[k])));
    return tr;
  }));
}
