/* Halaman kerja verifikator: the queue of a kabupaten/kota, one record's detail, decisions.
 *
 * Reads and writes /api/v1 with the key the user pastes. The key, the calls, the message line
 * and the formats are the page kit's (app/web/pages/static/kumkm.js); this module holds what
 * is the work page's own. Everything the API returns goes on the page with textContent, never
 * innerHTML (`el`).
 *
 * Every decision carries the version and the status the verifikator saw (`version`, `dari`).
 * When the record changed meanwhile the API answers 409 with the current state; the page then
 * shows what changed and lets the verifikator decide again, never overwriting silently. */
import {$, ApiError, angka, apiJson, el, gagal, getKey, keepInUrl, letakData, mulai, periodeData, pesan, pilihPeriode,
  showKeyForm, showKeySaved} from "/static/kumkm/kumkm.js";

const PAGE = 50;           // records per queue request
const FILL_REQUESTS = 10;  // a rare filter may need several requests to fill a page
const BATCH_MAX = 1000;    // the batch endpoint's limit per request

const STATUS_LABEL = {masuk: "masuk", diterima: "diterima", ditolak: "ditolak"};
const ALASAN_LABEL = {
  data_tidak_lengkap: "data tidak lengkap", data_tidak_valid: "data tidak valid", duplikat: "duplikat",
  di_luar_wilayah: "di luar wilayah", bukan_kumkm: "bukan KUMKM", lainnya: "lainnya",
};
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
  lokasi: "Lokasi",
};
const RUPIAH = new Set(["modal_usaha", "hasil_penjualan_tahunan", "aset", "modal_sendiri", "modal_luar",
                        "volume_usaha", "shu"]);
const DUPLICATE_FIELDS = ["nama_usaha", "nama_pemilik", "nik_pemilik", "alamat", "telepon", "kode_wilayah",
                          "enumerator_id", "captured_at", "kbli", "modal_usaha"];

const waktu = new Intl.DateTimeFormat("id-ID", {dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Jakarta"});

const state = {
  kabkota: "",
  rekap: {},            // kode_kabkota -> counts
  items: [],            // the queue as loaded
  cursor: null,
  loadSeq: 0,           // a slow answer for an earlier filter must not overwrite a newer one
  current: -1,          // index in items
  detail: null,         // {id, status, version, record}
  detailSeq: 0,
  selected: new Set(),
  mode: null,           // open decision form: tolak | balik-terima | balik-tolak
  busy: false,
  loadingMore: false,
  periodeData: null,    // GET /api/v1/periode: where the key's data is (for an empty queue)
};

// ------------------------------------------------------------------ formats

function tampil(field, v) {
  if (v === null || v === undefined || v === "") return "-";
  if (typeof v === "boolean") return v ? "Ya" : "Tidak";
  if (typeof v === "number" && RUPIAH.has(field)) return angka(v);
  if (field === "captured_at") return waktu.format(new Date(v)) + " WIB";
  if (field === "lokasi" && typeof v === "object") return v.lat + ", " + v.lon;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function lencanaStatus(status) {
  return el("span", STATUS_LABEL[status] || status, "lencana status-" + status);
}

// ------------------------------------------------------------------ messages

/** A failed call in words a verifikator can act on (the kit says the rest: a rejected key, a
 *  busy service); the problem's `code` tells a key of the wrong role from a key of another wilayah. */
function kata(status, body) {
  const code = body.code || "";
  if (code === "role-forbidden") {
    return "Kunci ini bukan kunci verifikator. Halaman verifikasi hanya dapat dipakai dengan kunci verifikator " +
           "kabupaten/kota (atau admin); kunci enumerator, dinas dan walidata tidak dapat memutuskan rekaman. " +
           "Mintalah kunci verifikator kepada operator.";
  }
  if (code === "outside-scope") {
    const scope = body.scope ? " (" + body.scope + ")" : "";
    return "Data ini berada di luar wilayah kunci Anda" + scope + ". Seorang verifikator hanya memeriksa " +
           "rekaman kabupaten/kota kuncinya sendiri: pilih kabupaten/kota Anda, atau gunakan kunci wilayah tersebut.";
  }
  if (code === "not-found") return "Rekaman tidak ditemukan. Periksa ID rekaman.";
  if (code === "invalid-input") {
    // each message starts with its field's name
    const fields = (body.errors || []).map((e) => e.message).join("; ");
    return "Isian tidak valid (422): " + (fields || body.detail || body.title || "");
  }
  return null;
}

// ------------------------------------------------------------------ counts

/** A kabupaten/kota in the chooser, with the records still waiting for a decision. */
function pilihanKabkota(row) {
  return row.nama + " (" + angka(row.belum_diverifikasi) + " belum diverifikasi)";
}

function renderJumlah(row) {
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

async function refreshJumlah() {
  const doc = await apiJson("/verifikasi/rekap", {params: {periode: $("periode").value, kabkota: state.kabkota}});
  renderJumlah(doc.items[0]);
}

// ------------------------------------------------------------------ filter and wilayah

async function loadKabkota(wanted) {
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

async function loadKecamatan() {
  const select = $("kecamatan");
  select.replaceChildren(new Option("Semua kecamatan", ""));
  $("desa").replaceChildren(new Option("Semua desa/kelurahan", ""));
  $("desa").disabled = true;
  if (!state.kabkota) return;
  const doc = await apiJson("/wilayah", {params: {parent: state.kabkota}});
  for (const w of doc.items) select.add(new Option(w.nama, w.kode));
}

async function loadDesa() {
  const kec = $("kecamatan").value;
  const select = $("desa");
  select.replaceChildren(new Option("Semua desa/kelurahan", ""));
  select.disabled = !kec;
  if (!kec) return;
  const doc = await apiJson("/wilayah", {params: {parent: kec}});
  for (const w of doc.items) select.add(new Option(w.nama, w.kode));
}

function filterParams() {
  return {
    periode: $("periode").value,
    kabkota: state.kabkota,
    status: $("status").value,
    wilayah: $("desa").value || $("kecamatan").value,
    jenis: $("jenis").value,
    enumerator_id: $("enumerator").value.trim(),
    captured_dari: $("dari").value,
    captured_sampai: $("sampai").value,
    duplikat: $("duplikat").value,
  };
}

// ------------------------------------------------------------------ the queue

async function loadQueue(reset) {
  const params = filterParams();
  const seq = reset ? ++state.loadSeq : state.loadSeq;
  const detailSeq = state.detailSeq;
  if (reset) {
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
  isi.append(judul);
  isi.append(el("span", [it.jenis === "koperasi" ? "Koperasi" : "UMKM", it.nama_wilayah || it.kode_wilayah,
                         it.enumerator_id, waktu.format(new Date(it.captured_at))].join(" · "), "kecil"));
  li.append(box, isi, lencanaStatus(it.status));
  li.addEventListener("click", () => move(state.items.indexOf(it)));
  return li;
}

function renderQueue() {
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

function renderSelection() {
  const n = state.selected.size;
  $("terima-terpilih").textContent = "Terima yang dipilih (" + angka(n) + ")";
  $("terima-terpilih").disabled = n === 0 || state.busy;
  for (const li of $("antrian").children) {
    const on = state.selected.has(li.dataset.id);
    li.classList.toggle("dipilih", on);
    li.querySelector(".pilih").checked = on;
  }
}

function toggle(id, on) {
  const it = state.items.find((x) => x.submission_id === id);
  if (!it || it.status !== "masuk") return;
  if (on === undefined) on = !state.selected.has(id);
  if (on) state.selected.add(id); else state.selected.delete(id);
  renderSelection();
}

function selectAll() {
  for (const it of state.items) if (it.status === "masuk") state.selected.add(it.submission_id);
  renderSelection();
}

async function move(i) {
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
  await openDetail(state.items[i].submission_id);
}

/** After a decision: the record leaves the queue when it no longer has the queue's status. */
function decided(id, status, version) {
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

// ------------------------------------------------------------------ the detail

function closeDetail() {
  state.detail = null;
  $("detail").hidden = true;
  closeForm();
}

async function openDetail(id, keepNotice) {
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
  if (seq !== state.detailSeq) return;
  state.detail = {id, status: rec.status, version: rec.version, record: rec, riwayat: riwayat.items};
  renderDetail(rec, riwayat.items, versions, dups.filter(Boolean));
  const it = state.items.find((x) => x.submission_id === id);
  if (it && (it.status !== rec.status || it.version !== rec.version)) {
    it.status = rec.status;
    it.version = rec.version;
    renderQueue();
  }
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

// ------------------------------------------------------------------ decisions

function openForm(mode) {
  state.mode = mode;
  const form = $("form-keputusan");
  form.hidden = false;
  form.dataset.mode = mode;
  form.reset();
  const alasan = mode !== "balik-terima";
  $("pilihan-alasan").hidden = !alasan;
  $("judul-keputusan").textContent = {
    "tolak": "Tolak rekaman ini", "balik-terima": "Batalkan penolakan dan terima",
    "balik-tolak": "Batalkan penerimaan dan tolak",
  }[mode];
  $("catatan-wajib").textContent = mode === "tolak" ? "(wajib bila alasan \u201clainnya\u201d)" : "(wajib: alasan pembatalan)";
  if (alasan) form.querySelector("input[name=alasan]").focus();
  else $("catatan").focus();
}

function closeForm() {
  state.mode = null;
  $("form-keputusan").hidden = true;
}

function chooseAlasan(n) {
  const radios = $("form-keputusan").querySelectorAll("input[name=alasan]");
  if (n >= 1 && n <= radios.length) {
    radios[n - 1].checked = true;
    radios[n - 1].focus();
  }
}

async function submitForm() {
  const mode = state.mode;
  const alasanInput = $("form-keputusan").querySelector("input[name=alasan]:checked");
  const alasan = alasanInput ? alasanInput.value : null;
  const catatan = $("catatan").value.trim();
  if (mode !== "balik-terima" && !alasan) {
    pesan("Pilih alasan penolakan (tekan 1–6).");
    return;
  }
  if ((mode !== "tolak" || alasan === "lainnya") && !catatan) {
    pesan(mode === "tolak" ? "Catatan wajib diisi untuk alasan \u201clainnya\u201d." : "Catatan wajib diisi untuk membatalkan keputusan.");
    $("catatan").focus();
    return;
  }
  closeForm();
  await putuskan(mode === "balik-terima" ? "diterima" : "ditolak", alasan, catatan || null);
}

function terima() {
  const d = state.detail;
  if (!d || state.busy) return;
  if (d.status === "masuk") putuskan("diterima", null, null);
  else if (d.status === "ditolak") openForm("balik-terima");
  else pesan("Rekaman ini sudah diterima.", "info");
}

function tolak() {
  const d = state.detail;
  if (!d || state.busy) return;
  if (d.status === "masuk") openForm("tolak");
  else if (d.status === "diterima") openForm("balik-tolak");
  else pesan("Rekaman ini sudah ditolak.", "info");
}

async function putuskan(ke, alasan, catatan) {
  const d = state.detail;
  const body = {status: ke, version: d.version, dari: d.status};
  if (alasan) body.alasan_kode = alasan;
  if (catatan) body.catatan = catatan;
  state.busy = true;
  pesan("");
  try {
    const out = await apiJson("/submissions/" + d.id + "/verifikasi", {method: "POST", body});
    const nama = $("detail-nama").textContent;
    decided(d.id, out.status, out.version);
    refreshJumlah().catch(gagal);
    if (state.items.length && state.current >= 0) {
      await move(state.current);
      const box = $("hasil-keputusan");
      box.textContent = "\u201c" + nama + "\u201d " + out.status + ". Rekaman berikutnya ditampilkan.";
      box.hidden = false;
    } else {
      closeDetail();
      pesan("\u201c" + nama + "\u201d " + out.status + ". Antrian ini sudah habis.", "info");
    }
  } catch (e) {
    if (e instanceof ApiError && e.body.code === "state-conflict") {
      await showConflict(d, e.body, ke);
    } else {
      gagal(e);
    }
  } finally {
    state.busy = false;
    renderSelection();
  }
}

/** The record changed since it was shown: say what it is now and who changed it, show it
 *  again (with the differences between versions), and let the verifikator decide again. */
async function showConflict(seen, body, wanted) {
  const now = body.current_status;
  await openDetail(seen.id, true);
  const last = (state.detail.riwayat || []).slice(-1)[0];
  let who = "";
  if (last && last.aksi !== "dibuat") {
    who = " " + (last.aksi === "dikoreksi" ? "Dikoreksi" : "Diputuskan") + " oleh " + last.oleh + " pada " +
      waktu.format(new Date(last.pada)) + " WIB" + (last.alasan_kode ? " (alasan: " + (ALASAN_LABEL[last.alasan_kode] || last.alasan_kode) + ")" : "") + ".";
  }
  const changedVersion = body.current_version !== seen.version
    ? " Isinya berubah dari versi " + seen.version + " ke versi " + body.current_version + " (lihat perubahan antarversi)."
    : "";
  $("hasil-keputusan").hidden = true;
  const box = $("konflik");
  box.textContent = "Keputusan Anda (" + wanted + ") tidak disimpan: rekaman ini sudah berubah sejak Anda membukanya. " +
    "Anda melihatnya " + seen.status + " versi " + seen.version + "; sekarang " + now + " versi " + body.current_version + "." +
    who + changedVersion + " Periksa lalu putuskan lagi bila perlu.";
  box.dataset.status = now;
  box.hidden = false;
  refreshJumlah().catch(gagal);
}

async function terimaTerpilih() {
  if (state.busy || state.selected.size === 0) return;
  const chosen = state.items.filter((it) => state.selected.has(it.submission_id));
  state.busy = true;
  renderSelection();
  pesan("Mengirim " + angka(chosen.length) + " keputusan…", "info");
  const outcomes = [];
  try {
    for (let i = 0; i < chosen.length; i += BATCH_MAX) {
      const part = chosen.slice(i, i + BATCH_MAX);
      const doc = await apiJson("/verifikasi/batch", {method: "POST", body: {items: part.map((it) => ({
        submission_id: it.submission_id, status: "diterima", version: it.version, dari: it.status}))}});
      for (const o of doc.items) outcomes.push({item: part[o.index], o});
    }
    pesan("");
  } catch (e) {
    gagal(e);
  } finally {
    state.busy = false;
  }
  renderBatch(outcomes);
  for (const {item, o} of outcomes) {
    if (o.outcome !== "rejected") decided(item.submission_id, "diterima", item.version);
    else if (o.status === 409) {
      state.selected.delete(item.submission_id);
      item.status = o.current_status;
      item.version = o.current_version;
    }
  }
  renderQueue();
  refreshJumlah().catch(gagal);
  if (state.items.length) {
    state.current = Math.max(0, Math.min(state.current, state.items.length - 1));
    await move(state.current);
  } else {
    closeDetail();
  }
}

function outcomeText(o) {
  if (o.outcome === "decided") return "diterima";
  if (o.outcome === "duplicate") return "sudah diterima sebelumnya (tidak diubah)";
  if (o.status === 409) return "tidak diubah: rekaman sudah berubah, sekarang " + o.current_status + " versi " + o.current_version;
  if (o.status === 403) return "tidak diubah: di luar wilayah kunci Anda";
  if (o.status === 404) return "tidak diubah: rekaman tidak ditemukan";
  return "tidak diubah: " + (o.errors || []).map((e) => e.field + ": " + e.message).join("; ");
}

function renderBatch(outcomes) {
  const ok = outcomes.filter(({o}) => o.outcome !== "rejected").length;
  $("hasil-batch").hidden = false;
  $("hasil-batch-ringkas").textContent = angka(outcomes.length) + " rekaman dikirim: " + angka(ok) +
    " diterima, " + angka(outcomes.length - ok) + " tidak diubah.";
  $("hasil-batch-daftar").replaceChildren(...outcomes.map(({item, o}) => {
    const li = el("li", null, "hasil-" + o.outcome);
    li.dataset.id = item.submission_id;
    li.dataset.hasil = o.outcome;
    li.append(el("strong", item.nama || item.submission_id), el("span", " — " + outcomeText(o)));
    return li;
  }));
}

// ------------------------------------------------------------------ search

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function cari() {
  const q = $("cari").value.trim();
  if (!q) return;
  $("cari").blur();
  if (UUID.test(q)) {
    const i = state.items.findIndex((x) => x.submission_id === q.toLowerCase());
    if (i >= 0) await move(i);
    else await openDetail(q.toLowerCase());
  } else {
    $("enumerator").value = q;
    await loadQueue(true);
  }
}

// ------------------------------------------------------------------ keyboard

function typing(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select") return true;
  return tag === "input" && !["radio", "checkbox", "button", "submit"].includes(target.type);
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || $("kerja").hidden) return;
  if (ev.key === "Escape") {
    if (state.mode) { closeForm(); ev.preventDefault(); }
    else if (document.activeElement) document.activeElement.blur();
    return;
  }
  if (typing(ev.target)) return;
  if (state.mode) {
    if (/^[1-9]$/.test(ev.key)) { chooseAlasan(Number(ev.key)); ev.preventDefault(); }
    else if (ev.key === "Enter") { ev.preventDefault(); submitForm().catch(gagal); }
    return;
  }
  const act = {
    j: () => move(state.current + 1), k: () => move(state.current - 1),
    t: terima, x: tolak, T: terimaTerpilih,
    s: () => state.detail && toggle(state.detail.id), a: selectAll,
    "/": () => $("cari").focus(),
  }[ev.key];
  if (act) {
    ev.preventDefault();
    Promise.resolve(act()).catch(gagal);
  }
}

// ------------------------------------------------------------------ start

async function start() {
  const params = new URLSearchParams(window.location.search);
  try {
    pesan("Memuat…", "info");
    // the periode of the address, else the newest with data in the key's wilayah
    state.periodeData = await periodeData();
    pilihPeriode($("periode"), params.get("periode"), state.periodeData);
    await loadKabkota(params.get("kabkota") || "");
    showKeySaved();
    $("kerja").hidden = false;
    for (const [id, name] of [["status", "status"], ["jenis", "jenis"], ["enumerator", "enumerator_id"],
                              ["dari", "captured_dari"], ["sampai", "captured_sampai"], ["duplikat", "duplikat"]]) {
      if (params.get(name)) $(id).value = params.get(name);
    }
    await loadKecamatan();
    const wilayah = params.get("wilayah") || "";
    if (wilayah.startsWith(state.kabkota + ".")) {
      $("kecamatan").value = wilayah.slice(0, 8);
      await loadDesa();
      if (wilayah.length > 8) $("desa").value = wilayah;
    }
    pesan("");
    await loadQueue(true);
  } catch (e) {
    $("kerja").hidden = true;
    showKeySaved();
    gagal(e);
    if (!getKey()) showKeyForm();
  }
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  loadQueue(true).catch(gagal);
});
$("periode").addEventListener("change", () => {
  periodeData().then((data) => { state.periodeData = data; })
    .then(() => loadKabkota(state.kabkota)).then(() => loadQueue(true)).catch(gagal);
});
$("kabkota").addEventListener("change", () => {
  state.kabkota = $("kabkota").value;
  loadKecamatan().then(() => loadQueue(true)).catch(gagal);
});
$("kecamatan").addEventListener("change", () => loadDesa().catch(gagal));
$("form-cari").addEventListener("submit", (ev) => {
  ev.preventDefault();
  cari().catch(gagal);
});
$("form-keputusan").addEventListener("submit", (ev) => {
  ev.preventDefault();
  submitForm().catch(gagal);
});
$("batal-keputusan").addEventListener("click", closeForm);
$("tombol-terima").addEventListener("click", terima);
$("tombol-tolak").addEventListener("click", tolak);
$("pilih-semua").addEventListener("click", selectAll);
$("terima-terpilih").addEventListener("click", () => terimaTerpilih().catch(gagal));
$("muat-lagi").addEventListener("click", () => loadQueue(false).catch(gagal));
document.addEventListener("keydown", onKey);
// the work needs a key: it hides whenever the key form shows (a rejected key included)
mulai({start, kata, kodeStatus: true, formShown: () => { $("kerja").hidden = true; }});
