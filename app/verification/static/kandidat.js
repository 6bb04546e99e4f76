/* Kandidat entitas (Basis Data Tunggal, docs/registry-api.md): the pairs of usaha or koperasi the
 * linker found may be one, per kabupaten/kota, both sides next to each other with the score and
 * the reasons; the verifikator links them (tautkan) or says they differ (bukan sama). An
 * entity's own view lists its records, and splitting some of them out (pisahkan) undoes a link.
 *
 * Every action sends the versions the verifikator saw; when an entity or the candidate changed
 * meanwhile the API answers 409 with the current state, which is shown before the list is read
 * again, never overwritten silently. Everything from the API goes on the page as text (`el`). */
import {$, ApiError, apiJson, el, gagal} from "/static/kumkm/kumkm.js";
import {state, waktu} from "./keadaan.js";

const ALASAN = {
  nik_pemilik_sama: () => "NIK pemilik sama",
  nama_mirip: (a) => "nama mirip (" + skor(a.nilai) + "): \u201c" + a.a + "\u201d dan \u201c" + a.b + "\u201d",
  pengenal_bertentangan: (a) => "pengenal bertentangan" + (a.pengenal ? " (" + a.pengenal + ")" : ""),
};
const PENGENAL = {nib: "NIB", nik_koperasi: "NIK koperasi", nomor_badan_hukum: "Nomor badan hukum"};

const kandidat = {items: [], cursor: null, entitas: null, seq: 0};

function skor(n) {
  return typeof n === "number" ? n.toFixed(3).replace(".", ",") : String(n);
}

function info(id, text) {
  const box = $(id);
  box.textContent = text || "";
  box.hidden = !text;
}

// ------------------------------------------------------------------ the list

/** The open candidates of the kabupaten/kota chosen, highest score first. */
export async function loadKandidat(reset = true) {
  if (!state.kabkota) return;
  const seq = ++kandidat.seq;
  const page = await apiJson("/kumkm/kandidat", {params: {kabkota: state.kabkota, cursor: reset ? null : kandidat.cursor}});
  if (seq !== kandidat.seq) return;      // an answer for an earlier kabupaten/kota
  kandidat.items = reset ? page.items : kandidat.items.concat(page.items);
  kandidat.cursor = page.next_cursor;
  render();
}

function render() {
  const list = $("kandidat");
  list.replaceChildren(...kandidat.items.map(butir));
  $("kandidat-kosong").hidden = kandidat.items.length > 0;
  $("kandidat-lagi").hidden = !kandidat.cursor;
  $("info-kandidat").textContent = kandidat.items.length ? kandidat.items.length + " pasangan terbuka" : "";
}

function sisi(e, huruf) {
  const box = el("div", null, "sisi");
  box.dataset.sisi = huruf;
  if (!e) return box;
  box.append(el("h3", e.nama || "(tanpa nama)"));
  const lihat = el("button", e.id_kumkm, "tautan-entitas");
  lihat.type = "button";
  lihat.dataset.id = e.id_kumkm;
  lihat.title = "Lihat entitas ini";
  lihat.addEventListener("click", () => bukaEntitas(e.id_kumkm).catch(gagal));
  box.append(lihat);
  const rincian = el("dl", null, "rincian");
  const baris = [["Jenis", e.jenis === "koperasi" ? "koperasi" : "UMKM"]];
  for (const [k, label] of Object.entries(PENGENAL)) {
    if (e.pengenal && e.pengenal[k]) baris.push([label, e.pengenal[k].join(", ")]);
  }
  baris.push(["Alamat", e.alamat || "-"], ["Skala usaha", e.skala_usaha || "-"],
             ["Periode", (e.periode || []).join(", ")], ["Versi", String(e.versi)]);
  for (const [k, v] of baris) rincian.append(el("dt", k), el("dd", v));
  box.append(rincian);
  return box;
}

function butir(k) {
  const li = el("li", null, "kandidat-butir");
  li.dataset.id = k.id;
  const judul = el("div", null, "baris antara");
  judul.append(el("strong", "Skor " + skor(k.skor)),
               el("span", (k.alasan || []).map((a) => (ALASAN[a.kode] || (() => a.kode))(a)).join("; "), "alasan"));
  const pasangan = el("div", null, "pasangan");
  pasangan.append(sisi(k.a, "a"), sisi(k.b, "b"));
  const label = el("label", "Catatan");
  label.htmlFor = "catatan-kandidat-" + k.id;
  const catatan = el("input");
  catatan.id = "catatan-kandidat-" + k.id;
  catatan.type = "text";
  catatan.maxLength = 2000;
  catatan.spellcheck = false;
  const tombol = el("div", null, "baris");
  const tautkan = el("button", "Tautkan (sama)", "terima");
  tautkan.type = "button";
  tautkan.dataset.aksi = "tautkan";
  const beda = el("button", "Bukan sama", "sekunder");
  beda.type = "button";
  beda.dataset.aksi = "bukan-sama";
  for (const b of [tautkan, beda]) b.addEventListener("click", () => putuskan(k, b.dataset.aksi, catatan.value.trim()));
  tombol.append(tautkan, beda);
  li.append(judul, pasangan, label, catatan, tombol);
  return li;
}

/** tautkan or bukan-sama, with the versions shown. */
async function putuskan(k, aksi, catatan) {
  info("konflik-kandidat", "");
  info("hasil-kandidat", "");
  const body = {versi_a: k.a.versi, versi_b: k.b.versi};
  if (catatan) body.catatan = catatan;
  try {
    const out = await apiJson("/kumkm/kandidat/" + k.id + "/" + aksi, {method: "POST", body});
    info("hasil-kandidat", aksi === "tautkan"
      ? "Ditautkan: " + out.digabung + " digabung ke " + out.id_kumkm + " (" + out.submission_ids.length +
        " rekaman dipindah). Dapat dibatalkan dengan Pisahkan di entitas " + out.id_kumkm + "."
      : "Dicatat bukan sama: " + out.id_a + " dan " + out.id_b + ". Pasangan ini tidak akan diusulkan lagi.");
    // an entity open beside the list shows what the merge made of it
    if (aksi === "tautkan" && kandidat.entitas) await bukaEntitas(out.id_kumkm);
  } catch (e) {
    if (!(e instanceof ApiError && e.body.code === "state-conflict")) { gagal(e); return; }
    const b = e.body;
    info("konflik-kandidat", "Keputusan Anda tidak disimpan: kandidat ini sudah berubah sejak Anda membukanya " +
      "(status " + b.current_status + "; versi " + b.id_a + " " + b.current_versi_a + ", versi " + b.id_b + " " +
      b.current_versi_b + "). Daftar dimuat ulang: periksa lalu putuskan lagi.");
  }
  await loadKandidat(true);
}

// ------------------------------------------------------------------ one entity

/** An entity: its records (to split some out) and its peristiwa. */
export async function bukaEntitas(id) {
  const e = await apiJson("/kumkm/" + encodeURIComponent(id));
  kandidat.entitas = e;
  const panel = $("entitas");
  panel.hidden = false;
  panel.dataset.id = e.id_kumkm;
  const nama = (e.profil.nama_usaha || e.profil.nama_koperasi || {}).nilai || "(tanpa nama)";
  $("entitas-judul").textContent = nama + " \u2014 " + e.id_kumkm;
  $("entitas-versi").textContent = "versi " + e.versi;
  $("entitas-ringkas").textContent = (e.digabung_ke ? e.id_diminta + " sudah digabung ke " + e.id_kumkm + ". " : "") +
    (e.id_lama.length ? "ID lama: " + e.id_lama.join(", ") + ". " : "") + "Kabupaten/kota " + e.kode_kabkota + ".";
  $("entitas-tautan").replaceChildren(...e.tautan.map((t) => {
    const li = el("li");
    const label = el("label", null, "pilihan");
    const cek = el("input");
    cek.type = "checkbox";
    cek.value = t.submission_id;
    label.append(cek, el("span", "periode " + t.periode + " \u00b7 " + t.status + " \u00b7 skala " + (t.skala_usaha || "-") +
                                 " \u00b7 dasar " + t.dasar + " \u00b7 " + t.submission_id));
    li.append(label);
    return li;
  }));
  $("entitas-peristiwa").replaceChildren(...e.peristiwa.map((p) =>
    el("li", waktu.format(new Date(p.pada)) + " WIB \u00b7 " + p.aksi + " oleh " + p.oleh + (p.alasan ? ": " + p.alasan : ""))));
  $("catatan-pisah").value = "";
  panel.scrollIntoView({block: "nearest"});
}

export async function pisahkan() {
  const e = kandidat.entitas;
  if (!e) return;
  info("konflik-kandidat", "");
  info("hasil-kandidat", "");
  const ids = [...$("entitas-tautan").querySelectorAll("input:checked")].map((c) => c.value);
  const body = {versi: e.versi, submission_ids: ids};
  const catatan = $("catatan-pisah").value.trim();
  if (catatan) body.catatan = catatan;
  try {
    const out = await apiJson("/kumkm/" + e.id_kumkm + "/pisahkan", {method: "POST", body});
    info("hasil-kandidat", out.submission_ids.length + " rekaman dipisahkan dari " + out.id_kumkm + " ke " + out.ke +
      (out.dihidupkan ? " (entitas lama dihidupkan kembali: penggabungan dibatalkan)." : " (entitas baru)."));
  } catch (err) {
    if (!(err instanceof ApiError && err.body.code === "state-conflict")) { gagal(err); return; }
    info("konflik-kandidat", "Pemisahan tidak disimpan: entitas " + e.id_kumkm + " sudah berubah (sekarang versi " +
      err.body.current_versi + (err.body.digabung_ke ? ", digabung ke " + err.body.digabung_ke : "") +
      "). Entitas dimuat ulang: periksa lalu pisahkan lagi.");
  }
  await bukaEntitas(e.id_kumkm);
  await loadKandidat(true);
}

export function tutupEntitas() {
  kandidat.entitas = null;
  $("entitas").hidden = true;
}
