/* The work page's queue (app/verification/static): the records of one kabupaten/kota that the
 * filter picks, loaded page by page; its counts; the selection for "accept all chosen"; moving
 * through it (each move opens the record in detail.js); the search box. The filter's wilayah,
 * kecamatan -> desa/kelurahan under the chosen kabupaten/kota, is the kit's chained selects
 * (app/web/pages/static/wilayah.js); the kabupaten/kota come from /verifikasi/rekap with the
 * records still waiting in each. */
import {$, angka, apiJson, el, gagal, keepInUrl, letakData} from "/static/kumkm/kumkm.js";
import {PilihanWilayah} from "/static/kumkm/wilayah.js";
import {closeDetail, openDetail} from "./detail.js";
import {lencanaStatus, state, waktu} from "./keadaan.js";
import {lencanaPemutakhiran} from "./pemutakhiran.js";
import {petaVerifikasi} from "./peta.js";

const PAGE = 50;           // records per queue request
const FILL_REQUESTS = 10;  // a rare filter may need several requests to fill a page

// ------------------------------------------------------------------ counts

/** A kabupaten/kota in the chooser, with the records still waiting for a decision. */
function pilihanKabkota(row) {
  return row.nama + " (" + angka(row.belum_diverifikasi) + " belum diverifikasi)";
}

export function renderJumlah(row) {
  if (!row) return;
  state.rekap[row.kode_kabkota] = row;
  $("jumlah-belum-diverifikasi").textContent = angka(row.belum_diverifikasi);
  $("jumlah-diterima").textContent = angka(row.diterima);
  $("jumlah-ditolak").textContent = angka(row.ditolak);
  $("jumlah-total").textContent = angka(row.total);
  $("jumlah-wilayah").textContent = row.nama + " · periode " + $("periode").value;
  const opt = [...$("kabkota").options].find((o) => o.value === row.kode_kabkota);
  if (opt) opt.textContent = pilihanKabkota(row);
}

export async function refreshJumlah() {
  const doc = await apiJson("/verifikasi/rekap", {params: {periode: $("periode").value, kabkota: state.kabkota}});
  renderJumlah(doc.items[0]);
}

// ------------------------------------------------------------------ filter and wilayah

export async function loadKabkota(wanted) {
  const doc = await apiJson("/verifikasi/rekap", {params: {periode: $("periode").value}});
  const select = $("kabkota");
  select.replaceChildren(...doc.items.map((r) => new Option(pilihanKabkota(r), r.kode_kabkota)));
  for (const r of doc.items) state.rekap[r.kode_kabkota] = r;
  select.disabled = doc.items.length <= 1;
  const known = doc.items.map((r) => r.kode_kabkota);
  // the one asked in the URL, else the first with work waiting, else the first
  const busiest = doc.items.find((r) => r.belum_diverifikasi > 0);
  select.value = known.includes(wanted) ? wanted : (busiest ? busiest.kode_kabkota : (known[0] || ""));
  if (wanted && !known.includes(wanted)) {
    // Not a kabupaten/kota of this key: ask the API, which explains why (outside-scope).
    await apiJson("/verifikasi/rekap", {params: {periode: $("periode").value, kabkota: wanted}});
  }
  state.kabkota = select.value;
}

/** kabupaten/kota -> kecamatan -> desa/kelurahan: a new kabupaten/kota reloads the queue once
 *  its kecamatan are in (the filter must not name a kecamatan of the one before). */
export const pilihanWilayah = new PilihanWilayah([
  {select: $("kabkota"), semua: null},
  {select: $("kecamatan"), semua: "Semua kecamatan"},
  {select: $("desa"), semua: "Semua desa/kelurahan"},
], {berubah: async (i, kode) => {
  if (i > 0) return;
  state.kabkota = kode;
  await loadQueue(true);
}});

function filterParams() {
  return {
    periode: $("periode").value,
    kabkota: state.kabkota,
    status: $("status").value,
    wilayah: $("desa").value || $("kecamatan").value,  // the kabupaten/kota is its own parameter
    jenis: $("jenis").value,
    enumerator_id: $("enumerator").value.trim(),
    captured_dari: $("dari").value,
    captured_sampai: $("sampai").value,
    duplikat: $("duplikat").value,
    konflik: $("konflik-pemutakhiran").value,
    urut: $("urut").value,
  };
}

// ------------------------------------------------------------------ the queue

export async function loadQueue(reset) {
  const params = filterParams();
  const seq = reset ? ++state.loadSeq : state.loadSeq;
  const detailSeq = state.detailSeq;
  if (reset) {
    petaVerifikasi(params.periode, params.kabkota, bukaRekaman);  // the kabupaten/kota's map (peta.js)
    state.items = [];
    state.cursor = null;
    state.current = -1;
    state.selected.clear();
    keepInUrl(params);
    $("antrian").replaceChildren();
    closeDetail();
  }
  let got = 0;
  for (let i = 0; i < FILL_REQUESTS && got < PAGE; i++) {
    const page = await apiJson("/verifikasi/antrian", {params: {...params, cursor: state.cursor || "", limit: PAGE}});
    if (seq !== state.loadSeq) return;
    renderJumlah(page.jumlah);
    const have = new Set(state.items.map((it) => it.submission_id));
    const fresh = page.items.filter((it) => !have.has(it.submission_id));
    state.items.push(...fresh);
    got += fresh.length;
    state.cursor = page.next_cursor;
    if (!state.cursor) break;
  }
  renderQueue();
  // Open the first record only if the verifikator opened none while the queue loaded (a
  // search by id answered first must not be replaced by the queue's first item).
  if (state.current < 0 && state.items.length && state.detailSeq === detailSeq) await move(0);
}

function queueItem(it, i) {
  const li = el("li", null, "butir");
  li.dataset.id = it.submission_id;
  li.dataset.status = it.status;
  if (i === state.current) li.classList.add("aktif");
  if (state.selected.has(it.submission_id)) li.classList.add("dipilih");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.className = "pilih";
  box.tabIndex = -1;
  box.checked = state.selected.has(it.submission_id);
  box.disabled = it.status !== "masuk";
  box.setAttribute("aria-label", "Pilih " + (it.nama || it.submission_id));
  box.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(it.submission_id, box.checked); });
  const isi = el("div", null, "butir-isi");
  const judul = el("div", null, "butir-judul");
  judul.append(el("strong", it.nama || "(tanpa nama)", "nama"));
  if (it.kemungkinan_duplikat) judul.append(el("span", "kemungkinan duplikat", "lencana dup"));
  const ulang = lencanaPemutakhiran(it);
  if (ulang) judul.append(ulang);
  isi.append(judul);
  isi.append(el("span", [it.jenis === "koperasi" ? "Koperasi" : "UMKM", it.nama_wilayah || it.kode_wilayah,
                         it.enumerator_id, waktu.format(new Date(it.captured_at))].join(" · "), "kecil"));
  li.append(box, isi, lencanaStatus(it.status));
  li.addEventListener("click", () => move(state.items.indexOf(it)));
  return li;
}

export function renderQueue() {
  $("antrian").replaceChildren(...state.items.map(queueItem));
  const masuk = state.rekap[state.kabkota];
  $("info-antrian").textContent = angka(state.items.length) + " tampil" + (state.cursor ? ", masih ada lagi" : "");
  $("muat-lagi").hidden = !state.cursor;
  const empty = state.items.length === 0;
  $("antrian-kosong").hidden = !empty;
  if (empty) {
    $("antrian-kosong").textContent = masuk && masuk.total === 0
      ? "Belum ada data masuk untuk " + masuk.nama + " pada periode " + $("periode").value + "." +
        letakData(state.periodeData, $("periode").value)
      : "Tidak ada rekaman yang cocok dengan saringan ini.";
  }
  renderSelection();
}

export function renderSelection() {
  const n = state.selected.size;
  $("terima-terpilih").textContent = "Terima yang dipilih (" + angka(n) + ")";
  $("terima-terpilih").disabled = n === 0 || state.busy;
  for (const li of $("antrian").children) {
    const on = state.selected.has(li.dataset.id);
    li.classList.toggle("dipilih", on);
    li.querySelector(".pilih").checked = on;
  }
}

export function toggle(id, on) {
  const it = state.items.find((x) => x.submission_id === id);
  if (!it || it.status !== "masuk") return;
  if (on === undefined) on = !state.selected.has(id);
  if (on) state.selected.add(id); else state.selected.delete(id);
  renderSelection();
}

export function selectAll() {
  for (const it of state.items) if (it.status === "masuk") state.selected.add(it.submission_id);
  renderSelection();
}

export async function move(i) {
  if (i < 0 || i >= state.items.length) return;
  state.current = i;
  for (const [n, li] of [...$("antrian").children].entries()) li.classList.toggle("aktif", n === i);
  const li = $("antrian").children[i];
  if (li) li.scrollIntoView({block: "nearest"});
  // Near the end of what is loaded: fetch the next page in the background.
  if (i >= state.items.length - 3 && state.cursor && !state.loadingMore) {
    state.loadingMore = true;
    loadQueue(false).catch(gagal).finally(() => { state.loadingMore = false; });
  }
  await bukaRekaman(state.items[i].submission_id);
}

/** Opens record `id` in the detail; the queue's line of it follows what the record is now
 *  (another verifikator may have decided it meanwhile). */
export async function bukaRekaman(id, keepNotice) {
  const rec = await openDetail(id, keepNotice);
  const it = rec && state.items.find((x) => x.submission_id === id);
  if (it && (it.status !== rec.status || it.version !== rec.version)) {
    it.status = rec.status;
    it.version = rec.version;
    renderQueue();
  }
}

/** After a decision: the record leaves the queue when it no longer has the queue's status. */
export function decided(id, status, version) {
  const i = state.items.findIndex((x) => x.submission_id === id);
  if (i < 0) return;
  state.selected.delete(id);
  if (status !== $("status").value) {
    state.items.splice(i, 1);
    // the record after it takes its place, and stays the one on screen
    if (i < state.current) state.current -= 1;
    if (state.current >= state.items.length) state.current = state.items.length - 1;
  } else {
    state.items[i].status = status;
    state.items[i].version = version;
  }
  renderQueue();
}

// ------------------------------------------------------------------ search

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A record id opens that record (in the queue when it is there); anything else is an
 *  enumerator's id and filters the queue. */
export async function cari() {
  const q = $("cari").value.trim();
  if (!q) return;
  $("cari").blur();
  if (UUID.test(q)) {
    const i = state.items.findIndex((x) => x.submission_id === q.toLowerCase());
    if (i >= 0) await move(i);
    else await bukaRekaman(q.toLowerCase());
  } else {
    $("enumerator").value = q;
    await loadQueue(true);
  }
}
