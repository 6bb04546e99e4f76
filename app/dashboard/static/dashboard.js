/* Dasbor capaian pendataan: reads /api/v1 with the key the user pastes.
 *
 * Everything the API returns is put on the page with textContent, never innerHTML: the key sits
 * in sessionStorage, and a wilayah name must never be able to become script.
 * Percentages are the API's own `persen` strings (rounded from the exact fraction on the
 * server), so the page can never disagree with the CSV or the JSON. */
"use strict";

(function () {
  const KEY_STORAGE = "kumkm.kunci";
  const API = "/api/v1";
  const LABEL_TINGKAT = {provinsi: "Provinsi", kabkota: "Kabupaten/Kota", kecamatan: "Kecamatan", desa: "Desa/Kelurahan"};
  const BULAN = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                 "September", "Oktober", "November", "Desember"];

  const $ = (id) => document.getElementById(id);
  let requestSeq = 0;  // a slow answer for an earlier choice must not overwrite a newer one
  let current = null;  // {periode, wilayah, as_of} of the table on screen, for the CSV buttons

  // ------------------------------------------------------------------ number format

  /** 41675 -> "41.675"; null -> "-" (as the CSV prints it). */
  function angka(n) {
    if (n === null || n === undefined) return "-";
    const s = String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    return n < 0 ? "-" + s : s;
  }

  /** num/den as "12,34%", rounded half-up in integers like the server's `persen`; null when den is 0. */
  function persen(num, den) {
    if (!den) return null;
    const scaled = Math.floor((2 * num * 10000 + den) / (2 * den));  // hundredths of a percent
    const whole = Math.floor(scaled / 100);
    const frac = String(scaled % 100).padStart(2, "0");
    return angka(whole) + "," + frac + "%";
  }

  function tanggal(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    return d + " " + BULAN[m - 1] + " " + y;
  }

  // ------------------------------------------------------------------ messages

  function pesan(text, kind) {
    const box = $("pesan");
    box.textContent = text;
    box.className = "pesan " + (kind || "galat");
    box.hidden = !text;
  }

  /** A failed API call in words a dinas officer can act on. */
  async function explain(resp) {
    let detail = "";
    try {
      const body = await resp.json();
      detail = body.detail || body.title || "";
    } catch (e) { /* not JSON: the status says enough */ }
    if (resp.status === 401) {
      return "Kunci API ditolak (401): kunci tidak dikenal, sudah dicabut atau kedaluwarsa. " +
             "Tempel kunci yang masih berlaku.";
    }
    if (resp.status === 403) {
      return "Kunci ini tidak berhak melihat data ini (403). Kunci dinas hanya mencakup wilayahnya " +
             "sendiri: pilih provinsi atau kabupaten/kota kunci Anda. Rincian: " + detail;
    }
    if (resp.status === 422) return "Pilihan tidak valid (422): " + detail;
    return "Layanan menjawab " + resp.status + (detail ? ": " + detail : "") + ". Coba lagi sebentar lagi.";
  }

  class ApiError extends Error {}

  async function api(path, params) {
    const url = new URL(API + path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v) url.searchParams.set(k, v);
    }
    let resp;
    try {
      resp = await fetch(url, {headers: {Authorization: "Bearer " + getKey()}});
    } catch (e) {
      throw new ApiError("Layanan tidak dapat dihubungi. Periksa koneksi lalu coba lagi.");
    }
    if (!resp.ok) {
      if (resp.status === 401) {
        // a rejected key is of no use later in the session either
        sessionStorage.removeItem(KEY_STORAGE);
        showKeyForm();
      }
      throw new ApiError(await explain(resp));
    }
    return resp;
  }

  // ------------------------------------------------------------------ key

  function getKey() { return sessionStorage.getItem(KEY_STORAGE) || ""; }

  function showKeyForm() {
    $("form-kunci").hidden = false;
    $("kunci-aktif").hidden = true;
  }

  function showKeySaved() {
    $("form-kunci").hidden = true;
    $("kunci-aktif").hidden = false;
  }

  // ------------------------------------------------------------------ wilayah choices

  function fillSelect(select, items, firstLabel) {
    select.replaceChildren(new Option(firstLabel, ""));
    for (const w of items) select.add(new Option(w.nama, w.kode));
  }

  async function loadProvinsi() {
    const resp = await api("/wilayah");
    fillSelect($("provinsi"), (await resp.json()).items, "Nasional");
    $("provinsi").disabled = false;
    $("tampilkan").disabled = false;
  }

  async function loadKabkota(provinsi) {
    const select = $("kabkota");
    if (!provinsi) {
      fillSelect(select, [], "Semua kabupaten/kota");
      select.disabled = true;
      return;
    }
    const resp = await api("/wilayah", {parent: provinsi});
    fillSelect(select, (await resp.json()).items, "Semua kabupaten/kota");
    select.disabled = false;
  }

  function chosen() {
    return {
      periode: $("periode").value,
      wilayah: $("kabkota").value || $("provinsi").value || "",
      as_of: $("as-of").value || "",
    };
  }

  // ------------------------------------------------------------------ rendering

  function cell(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function tableRow(no, r, isTotal) {
    const tr = document.createElement("tr");
    if (isTotal) tr.className = "jumlah";
    if (r.kode) tr.dataset.kode = r.kode;
    tr.append(cell("td", no, "no"));
    tr.append(cell(isTotal ? "th" : "td", r.nama, "nama"));
    const cols = [
      ["target", angka(r.target)], ["masuk", angka(r.masuk)],
      ["belum_diverifikasi", angka(r.belum_diverifikasi)], ["diterima", angka(r.diterima)],
      ["ditolak", angka(r.ditolak)], ["total_terverifikasi", angka(r.total_terverifikasi)],
      ["masuk_vs_target", r.persen.masuk_vs_target || "-"],
      ["diterima_vs_target", r.persen.diterima_vs_target || "-"],
      ["diterima_vs_masuk", r.persen.diterima_vs_masuk || "-"],
    ];
    for (const [field, text] of cols) {
      const td = cell("td", text, "angka");
      td.dataset.kolom = field;
      if (field === "belum_diverifikasi" && r.belum_diverifikasi > 0) td.classList.add("antrian");
      tr.append(td);
    }
    return tr;
  }

  function renderTable(doc) {
    $("kolom-wilayah").textContent = LABEL_TINGKAT[doc.tingkat];
    const body = document.querySelector("#tabel-capaian tbody");
    body.replaceChildren(...doc.rows.map((r, i) => tableRow(String(i + 1), r, false)));
    document.querySelector("#tabel-capaian tfoot").replaceChildren(tableRow("", doc.jumlah, true));
  }

  /** A step of 1, 2 or 5 times a power of ten giving about four grid lines up to max. */
  function niceStep(max) {
    const raw = max / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  /** Furthest behind target first, so the kabupaten/kota that need a push head the chart;
   *  rows without a target go last. The table keeps the official code order. */
  function behindFirst(rows) {
    const key = (r) => (r.masuk_vs_target === null ? Infinity : parseFloat(r.masuk_vs_target));
    return rows.slice().sort((a, b) => key(a) - key(b));
  }

  /** Horizontal bars with CSS: the page stays readable at any width without a chart library.
   *  Masuk and diterima are bars; the target is a vertical mark on the same scale. */
  function renderChart(doc) {
    const box = $("grafik");
    const peak = Math.max(1, ...doc.rows.map((r) => Math.max(r.masuk, r.target || 0)));
    const step = niceStep(peak);
    const top = Math.ceil(peak / step) * step;
    const pct = (n) => (100 * n / top) + "%";
    const rows = behindFirst(doc.rows).map((r) => {
      const row = document.createElement("div");
      row.className = "batang-baris";
      if (r.kode) row.dataset.kode = r.kode;
      const label = document.createElement("div");
      label.className = "batang-label";
      label.append(cell("span", r.nama, "nama"));
      const detail = angka(r.masuk) + " masuk · " + angka(r.diterima) + " diterima · target " +
        (r.target === null ? "belum ada" : angka(r.target)) +
        (r.persen.masuk_vs_target ? " (" + r.persen.masuk_vs_target + ")" : "");
      label.append(cell("span", detail, "rinci"));
      const lane = document.createElement("div");
      lane.className = "batang-jalur";
      lane.setAttribute("role", "img");
      lane.setAttribute("aria-label", r.nama + ": " + detail);
      for (let v = step; v < top; v += step) {
        const grid = document.createElement("div");
        grid.className = "garis-bantu";
        grid.style.left = pct(v);
        lane.append(grid);
      }
      for (const [cls, n] of [["masuk", r.masuk], ["diterima", r.diterima]]) {
        const bar = document.createElement("div");
        bar.className = "batang " + cls;
        bar.style.width = pct(n);
        lane.append(bar);
      }
      if (r.target !== null) {
        const mark = document.createElement("div");
        mark.className = "penanda-target";
        mark.style.left = pct(r.target);
        lane.append(mark);
      }
      row.append(label, lane);
      return row;
    });
    const axis = document.createElement("div");
    axis.className = "sumbu";
    for (let v = 0; v <= top; v += step) {
      const tick = cell("span", angka(v), "tik");
      tick.style.left = pct(v);
      axis.append(tick);
    }
    box.replaceChildren(...rows, axis);
  }

  function renderSummary(doc) {
    const j = doc.jumlah;
    $("ringkas-target").textContent = angka(j.target);
    const induk = doc.target_wilayah;
    $("ringkas-target-catatan").textContent = induk
      ? "target " + doc.wilayah.nama + " sendiri: " + angka(induk.target) + " (" + induk.dasar_hukum + ")"
      : "jumlah target per " + LABEL_TINGKAT[doc.tingkat].toLowerCase();
    $("ringkas-masuk").textContent = angka(j.masuk);
    $("ringkas-masuk-persen").textContent = j.persen.masuk_vs_target ? j.persen.masuk_vs_target + " dari target" : "target belum ada";
    $("ringkas-diterima").textContent = angka(j.diterima);
    $("ringkas-diterima-persen").textContent = j.persen.diterima_vs_target ? j.persen.diterima_vs_target + " dari target" : "target belum ada";
    $("ringkas-backlog").textContent = angka(j.belum_diverifikasi);
    const share = persen(j.belum_diverifikasi, j.masuk);
    $("ringkas-backlog-persen").textContent = share ? share + " dari data masuk menunggu verifikasi" : "tidak ada data masuk";
    $("ringkas-ditolak").textContent = angka(j.ditolak);
    $("ringkas-ditolak-catatan").textContent = "total terverifikasi " + angka(j.total_terverifikasi);

    const warn = $("peringatan-target");
    if (doc.rows_tanpa_target > 0) {
      warn.textContent = doc.rows_tanpa_target + " " + LABEL_TINGKAT[doc.tingkat].toLowerCase() +
        " belum punya target yang berlaku pada " + tanggal(doc.as_of) +
        ": persentase pada baris Jumlah membandingkan semua data masuk dengan target sebagian.";
      warn.hidden = false;
    } else {
      warn.hidden = true;
    }
  }

  function areaName(doc) {
    return doc.wilayah ? doc.wilayah.nama : "Nasional";
  }

  function render(doc) {
    $("judul").textContent = "Capaian pendataan " + areaName(doc) + " · periode " + doc.periode;
    $("keterangan").textContent = "Per " + LABEL_TINGKAT[doc.tingkat].toLowerCase() + "; target yang berlaku pada " +
      tanggal(doc.as_of) + ". Jumlah data dihitung langsung saat halaman dimuat.";
    renderSummary(doc);
    renderChart(doc);
    renderTable(doc);
    $("hasil").hidden = false;
  }

  async function show() {
    const choice = chosen();
    const seq = ++requestSeq;
    pesan("Memuat…", "info");
    try {
      const resp = await api("/capaian-pendataan", {periode: choice.periode, wilayah: choice.wilayah, as_of: choice.as_of});
      const doc = await resp.json();
      if (seq !== requestSeq) return;
      const params = new URLSearchParams(Object.entries(choice).filter(([, v]) => v));
      history.replaceState(null, "", "?" + params.toString());
      if (doc.rows.length === 0) {
        $("hasil").hidden = true;
        current = null;
        pesan("Belum ada target maupun data masuk untuk " + areaName(doc) + " pada periode " + doc.periode + ".", "info");
        return;
      }
      current = choice;
      pesan("");
      render(doc);
    } catch (e) {
      if (seq !== requestSeq) return;
      $("hasil").hidden = true;
      current = null;
      pesan(e instanceof ApiError ? e.message : "Terjadi kesalahan: " + e.message);
    }
  }

  // ------------------------------------------------------------------ CSV downloads

  const CSV_PATH = {capaian: "/capaian-pendataan", keragaan: "/agregat/keragaan-koperasi", umkm: "/agregat/umkm"};

  /** A plain link cannot send the Authorization header: fetch the file, then hand the browser a
   *  Blob under the file name the server chose. */
  async function unduh(jenis) {
    if (!current) return;
    try {
      const resp = await api(CSV_PATH[jenis], {periode: current.periode, wilayah: current.wilayah,
                                               as_of: jenis === "capaian" ? current.as_of : "", format: "csv"});
      const blob = await resp.blob();
      const match = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = match ? match[1] : jenis + ".csv";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    } catch (e) {
      pesan(e instanceof ApiError ? e.message : "Unduhan gagal: " + e.message);
    }
  }

  // ------------------------------------------------------------------ start

  async function start(autoShow) {
    try {
      await loadProvinsi();
      showKeySaved();
      const params = new URLSearchParams(window.location.search);
      const wilayah = params.get("wilayah") || "";
      if (params.get("periode")) $("periode").value = params.get("periode");
      if (params.get("as_of")) $("as-of").value = params.get("as_of");
      if (wilayah) {
        $("provinsi").value = wilayah.slice(0, 2);
        await loadKabkota(wilayah.slice(0, 2));
        if (wilayah.length > 2) $("kabkota").value = wilayah.slice(0, 5);
      }
      pesan("");
      if (autoShow) await show();
    } catch (e) {
      pesan(e instanceof ApiError ? e.message : "Terjadi kesalahan: " + e.message);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("form-kunci").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("kunci").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      $("kunci").value = "";
      start(new URLSearchParams(window.location.search).has("periode"));
    });
    $("ganti-kunci").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      showKeyForm();
      $("kunci").focus();
    });
    $("provinsi").addEventListener("change", async () => {
      try {
        await loadKabkota($("provinsi").value);
      } catch (e) {
        pesan(e instanceof ApiError ? e.message : "Terjadi kesalahan: " + e.message);
      }
    });
    $("filter").addEventListener("submit", (ev) => {
      ev.preventDefault();
      show();
    });
    for (const button of document.querySelectorAll("[data-unduh]")) {
      button.addEventListener("click", () => unduh(button.dataset.unduh));
    }
    if (getKey()) {
      start(new URLSearchParams(window.location.search).has("periode"));
    } else {
      showKeyForm();
    }
  });
})();
