/* Halaman kerja verifikator: the queue of a kabupaten/kota, one record's detail, decisions.
 *
 * Reads and writes /api/v1 with the key the user pastes. The key, the calls, the message line
 * and the formats are the page kit's (app/web/pages/static/kumkm.js); the page's own parts are
 * modules beside this one, each readable on its own:
 *   keadaan.js    the page's state, how a status and a moment are shown
 *   antrian.js    the queue: filter (the kit's wilayah selects), counts, selection, search
 *   detail.js     one record: fields, changes between versions, duplicates, history
 *   keputusan.js  decisions: accept, reject, undo, accept the chosen at once, conflicts
 *   kandidat.js   candidate entities of the kabupaten/kota: tautkan, bukan sama; pisahkan in an entity
 * This one starts the page: its words for a failed call, the keyboard, the controls.
 * Everything the API returns goes on the page with textContent, never innerHTML (`el`). */
import {$, gagal, getKey, mulai, periodeData, pesan, pilihPeriode, showKeyForm, showKeySaved} from "/static/kumkm/kumkm.js";
import {cari, loadKabkota, loadQueue, move, pilihanWilayah, selectAll, toggle} from "./antrian.js";
import {closeForm} from "./detail.js";
import {state} from "./keadaan.js";
import {loadKandidat, pisahkan, tutupEntitas} from "./kandidat.js";
import {chooseAlasan, submitForm, terima, terimaTerpilih, tolak} from "./keputusan.js";

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
                              ["dari", "captured_dari"], ["sampai", "captured_sampai"], ["duplikat", "duplikat"],
                              ["konflik-pemutakhiran", "konflik"], ["urut", "urut"]]) {
      if (params.get(name)) $(id).value = params.get(name);
    }
    await pilihanWilayah.isi(1, state.kabkota);
    // a kecamatan or desa from the address, when it lies in the kabupaten/kota chosen
    const wilayah = params.get("wilayah") || "";
    if (wilayah.startsWith(state.kabkota + ".")) await pilihanWilayah.pilih(wilayah);
    pesan("");
    await loadQueue(true);
    await loadKandidat(true);
  } catch (e) {
    $("kerja").hidden = true;
    showKeySaved();
    gagal(e);
    if (!getKey()) showKeyForm();
  }
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  loadQueue(true).then(() => loadKandidat(true)).catch(gagal);
});
$("periode").addEventListener("change", () => {
  periodeData().then((data) => { state.periodeData = data; })
    .then(() => loadKabkota(state.kabkota)).then(() => loadQueue(true)).catch(gagal);
});
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
$("kandidat-lagi").addEventListener("click", () => loadKandidat(false).catch(gagal));
$("tombol-pisahkan").addEventListener("click", () => pisahkan().catch(gagal));
$("tutup-entitas").addEventListener("click", tutupEntitas);
document.addEventListener("keydown", onKey);
// the work needs a key: it hides whenever the key form shows (a rejected key included)
mulai({start, kata, kodeStatus: true, formShown: () => { $("kerja").hidden = true; }});
