/* The work page's decisions (app/verification/static): accept or reject the record on screen
 * (t, x), undo a decision with a reason, accept every chosen record at once through the batch
 * endpoint, and what happened to each.
 *
 * Every decision carries the version and the status the verifikator saw (`version`, `dari`).
 * When the record changed meanwhile the API answers 409 with the current state; the page then
 * shows what changed and lets the verifikator decide again, never overwriting silently. */
import {$, ApiError, angka, apiJson, el, gagal, pesan} from "/static/kumkm/kumkm.js";
import {bukaRekaman, decided, move, refreshJumlah, renderQueue, renderSelection} from "./antrian.js";
import {closeDetail, closeForm} from "./detail.js";
import {ALASAN_LABEL, state, waktu} from "./keadaan.js";

const BATCH_MAX = 1000;    // the batch endpoint's limit per request

// ------------------------------------------------------------------ the decision form

/** Opens the form a decision needs: a reason to reject, a note to undo. It closes on Esc, on
 *  sending, and whenever another record shows (detail.js closeForm). */
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

export function chooseAlasan(n) {
  const radios = $("form-keputusan").querySelectorAll("input[name=alasan]");
  if (n >= 1 && n <= radios.length) {
    radios[n - 1].checked = true;
    radios[n - 1].focus();
  }
}

export async function submitForm() {
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

// ------------------------------------------------------------------ one record

/** t: accept a record that waits; for a rejected one, undo the rejection (with a note). */
export function terima() {
  const d = state.detail;
  if (!d || state.busy) return;
  if (d.status === "masuk") putuskan("diterima", null, null);
  else if (d.status === "ditolak") openForm("balik-terima");
  else pesan("Rekaman ini sudah diterima.", "info");
}

/** x: reject a record that waits (with a reason); for an accepted one, undo the acceptance. */
export function tolak() {
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
  await bukaRekaman(seen.id, true);
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

// ------------------------------------------------------------------ accepting the chosen at once

export async function terimaTerpilih() {
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
