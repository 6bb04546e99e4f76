/* What every browser page of the registry shares (app/web/pages): the key, calls to /api/v1
 * with it, a failed call in Indonesian words, the page's message line, numbers and dates as
 * Indonesian readers write them. A page's own script is a module that imports from this one
 * and calls `mulai` once with what is its own.
 *
 * The key the user pastes lives only in this tab's sessionStorage. Everything the API returns
 * goes on the page with textContent, never innerHTML: a name in a record or a wilayah must
 * never be able to become script next to the key. */

const KEY_STORAGE = "kumkm.kunci";
const API = "/api/v1";

export const $ = (id) => document.getElementById(id);

/** An element with its text (as text, never markup) and class. */
export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// ------------------------------------------------------------------ formats

/** 41675 -> "41.675"; null -> "-" (as the CSV prints it). */
export function angka(n) {
  if (n === null || n === undefined) return "-";
  const s = String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  return n < 0 ? "-" + s : s;
}

/** "2022-12-31" -> "31/12/2022": dates are shown as Indonesian readers write them. */
export function tanggal(iso) {
  const [y, m, d] = iso.slice(0, 10).split("-");
  return d + "/" + m + "/" + y;
}

/** "31/12/2022" -> "2022-12-31" for the API; null when it is not a real date in that form. */
export function isoDate(text) {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text.trim());
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return y + "-" + String(mo).padStart(2, "0") + "-" + String(d).padStart(2, "0");
}

/** The page's choices in its address (empty ones left out), so a reload or a shared link
 *  opens the same view. */
export function keepInUrl(params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  history.replaceState(null, "", "?" + q.toString());
}

// ------------------------------------------------------------------ messages

/** The page's message line (#pesan): an error by default, `info` for progress and notices;
 *  empty text hides it. */
export function pesan(text, kind) {
  const box = $("pesan");
  box.textContent = text || "";
  box.className = "pesan " + (kind || "galat");
  box.hidden = !text;
}

/** A failed call or step on the message line; `awalan` starts the words of an unexpected error. */
export function gagal(e, awalan) {
  pesan(e instanceof ApiError ? e.message : (awalan || "Terjadi kesalahan: ") + e.message);
}

// ------------------------------------------------------------------ the page's own parts

const page = {
  kata: () => null,   // (status, body) -> the page's words for a failed call, or null
  kodeStatus: false,  // whether the kit's messages name the HTTP status, e.g. "(401)"
  formShown: () => {},
};

// ------------------------------------------------------------------ API calls

/** A failed call: `message` in Indonesian for the page; `status` (0: no answer) and the
 *  problem `body` for a page that acts on its `code`. */
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body || {};
  }
}

/** A failed call in words the user can act on, chosen by the status and the problem's `code`
 *  (never its `detail`, written for an app's developer): the page's own words first (a role or an area that may not
 *  do what this page does is told what would), then what is the same on every page. */
function explain(status, body, headers) {
  const kode = page.kodeStatus ? " (" + status + ")" : "";
  if (status === 401 || body.code === "unauthorized") {
    return "Kunci API ditolak" + kode + ": kunci tidak dikenal, sudah dicabut atau kedaluwarsa. " +
           "Tempel kunci yang masih berlaku.";
  }
  const own = page.kata(status, body);
  if (own) return own;
  if (status === 429 || status === 503) {
    const wait = headers.get("Retry-After");
    return "Layanan sedang sibuk" + kode + ". Coba lagi" + (wait ? " dalam " + wait + " detik" : " sebentar lagi") + ".";
  }
  return "Layanan tidak dapat menjawab saat ini (kode " + status + "). Coba lagi sebentar lagi.";
}

/** Calls /api/v1 with the key and returns the response; a failure throws an ApiError. Empty
 *  parameters are left out. A key the service rejects is forgotten at once: it is of no use
 *  later in the session either. */
export async function api(path, {params, method, body} = {}) {
  const url = new URL(API + path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  }
  const headers = {Authorization: "Bearer " + getKey()};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(url, {method: method || "GET", headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new ApiError("Layanan tidak dapat dihubungi. Periksa koneksi lalu coba lagi.", 0);
  }
  if (!resp.ok) {
    let problem = {};
    try { problem = await resp.json(); } catch (e) { /* not JSON: the status says enough */ }
    if (resp.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      showKeyForm();
    }
    throw new ApiError(explain(resp.status, problem, resp.headers), resp.status, problem);
  }
  return resp;
}

/** GETs a report download through `api` and hands it to the browser as a file, under the name
 *  the server gave it (Content-Disposition), else `cadangan`. A failure throws, as `api` does. */
export async function unduhBerkas(path, params, cadangan) {
  const resp = await api(path, {params});
  const blob = await resp.blob();
  const match = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = match ? match[1] : cadangan;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

/** `api`, answering the JSON body ({} when there is none). */
export async function apiJson(path, options) {
  const resp = await api(path, options);
  try { return await resp.json(); } catch (e) { return {}; }
}

// ------------------------------------------------------------------ which periode has data

/** GET /api/v1/periode: every periode with the records inside the key's wilayah, and the newest
 *  with any; null when the key may not ask (the page then says why on its own call). */
export async function periodeData() {
  try {
    return await apiJson("/periode");
  } catch (e) {
    return null;
  }
}

/** The periode a page opens on: the one in its address, else the newest with data for the key
 *  (the running round may have none yet: the README's data is of 2022), else the running round
 *  the page was served with. */
export function pilihPeriode(select, dariAlamat, data) {
  const known = [...select.options].map((o) => o.value);
  if (dariAlamat && known.includes(dariAlamat)) select.value = dariAlamat;
  else if (data && data.terbaru_dengan_data && known.includes(data.terbaru_dengan_data)) {
    select.value = data.terbaru_dengan_data;
  }
}

/** Where the key's data is, for a page that shows none in `periode`: " Data ada pada periode
 *  2022 (40 data)." ("" when the key may not ask). */
export function letakData(data, periode) {
  if (!data) return "";
  const ada = data.items.filter((i) => i.jumlah_data > 0 && i.periode !== periode);
  if (!ada.length) return " Belum ada data di wilayah kunci ini pada periode mana pun.";
  return " Data ada pada periode " + ada.map((i) => i.periode + " (" + angka(i.jumlah_data) + " data)").join(", ") + ".";
}

// ------------------------------------------------------------------ key

export function getKey() { return sessionStorage.getItem(KEY_STORAGE) || ""; }

export function showKeyForm() {
  $("form-kunci").hidden = false;
  $("kunci-aktif").hidden = true;
  page.formShown();
}

export function showKeySaved() {
  $("form-kunci").hidden = true;
  $("kunci-aktif").hidden = false;
}

/** Starts a page: `start` runs with a key (the one in this tab, or one just pasted), `forget`
 *  when the user asks for another key, `formShown` whenever the key form shows (the page hides
 *  what needs a key), `kata(status, body)` gives the page's own words for a failed call (or
 *  null), `kodeStatus` names the HTTP status in the shared messages. */
export function mulai({start, forget, formShown, kata, kodeStatus}) {
  page.kata = kata || page.kata;
  page.formShown = formShown || page.formShown;
  page.kodeStatus = Boolean(kodeStatus);
  $("form-kunci").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("kunci").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $("kunci").value = "";
    start();
  });
  $("ganti-kunci").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    if (forget) forget();
    pesan("");
    showKeyForm();
    $("kunci").focus();
  });
  if (getKey()) start(); else showKeyForm();
}
