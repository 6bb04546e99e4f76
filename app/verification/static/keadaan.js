/* What the work page's modules share (app/verification/static): the one state of the page, and
 * how a status and a moment are shown. The queue (antrian.js), the record (detail.js) and the
 * decisions (keputusan.js) read and change `state`; verifikasi.js starts the page. */
import {el} from "/static/kumkm/kumkm.js";

export const state = {
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

const STATUS_LABEL = {masuk: "masuk", diterima: "diterima", ditolak: "ditolak"};
export const ALASAN_LABEL = {
  data_tidak_lengkap: "data tidak lengkap", data_tidak_valid: "data tidak valid", duplikat: "duplikat",
  di_luar_wilayah: "di luar wilayah", bukan_kumkm: "bukan KUMKM", lainnya: "lainnya",
};

export const waktu = new Intl.DateTimeFormat("id-ID", {dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Jakarta"});

export function lencanaStatus(status) {
  return el("span", STATUS_LABEL[status] || status, "lencana status-" + status);
}
