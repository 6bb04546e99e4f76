/* The map of a kabupaten/kota's records (docs/kampanye.md, Peta), for the dashboard and the
 * verifikasi page: Leaflet (served by the service, /static/leaflet/, loaded by the page's head
 * as the global `L`) over a plain grid, or over basemap tiles when KUMKM_MAP_TILE_URL is set.
 *
 * The points come from GET /api/v1/kampanye/titik for what the map shows (bbox and zoom):
 * the server answers the points themselves up to its threshold and grid clusters above it, so
 * the browser never holds more than a few thousand markers whatever the kabupaten/kota's size.
 * A cluster's click zooms in; a point's click opens its record (`buka`) when the answer
 * carries its id (the caller may open it). Everything from the API is put on the page as text. */
import {angka, apiJson, el} from "/static/kumkm/kumkm.js";

const LABEL = {masuk: "masuk", diterima: "diterima", ditolak: "ditolak"};
const INDONESIA = [[-11.2, 94.7], [6.3, 141.1]];
const JEDA_GERAK = 250;  // ms after the map stops moving before the points are asked again

/** A plain grid under the points when there are no tiles: a square per tile, drawn on canvas. */
function kisi() {
  const Kisi = L.GridLayer.extend({
    createTile() {
      const size = this.getTileSize();
      const c = document.createElement("canvas");
      c.width = size.x;
      c.height = size.y;
      const ctx = c.getContext("2d");
      ctx.strokeStyle = "#d3d9df";
      ctx.lineWidth = 1;
      ctx.strokeRect(0.5, 0.5, size.x, size.y);
      return c;
    },
  });
  return new Kisi({attribution: "kisi polos (tanpa peta dasar)"});
}

// Up to this many points each is an element of its own (focusable, Enter opens it); more are
// drawn on one canvas, which stays fast with thousands (elements cost the main thread a
// layout each: 2,000 of them froze the page for half a second in the browser test).
const ELEMEN_MAKS = 200;
// a status's colour and shape (peta.css draws the same for the elements and the legend)
const GAYA = {
  masuk: {bentuk: "lingkaran", radius: 5, color: "#1f5f99", weight: 3, fillColor: "#ffffff", fillOpacity: 1},
  diterima: {bentuk: "kotak", radius: 6, color: "#ffffff", weight: 1, fillColor: "#2e7d4f", fillOpacity: 1},
  ditolak: {bentuk: "segitiga", radius: 7, color: "#a12622", weight: 1, fillColor: "#a12622", fillOpacity: 1},
};

/** A point drawn on the canvas in its status's shape: Leaflet's CircleMarker (its hit test, its
 *  events) with its own path. */
function bentukKanvas() {
  L.Canvas.include({
    _gambarBentuk(layer) {
      if (!this._drawing || layer._empty()) return;
      const p = layer._point;
      const r = Math.max(Math.round(layer._radius), 1);
      const ctx = this._ctx;
      ctx.beginPath();
      if (layer.options.bentuk === "kotak") {
        ctx.rect(p.x - r, p.y - r, 2 * r, 2 * r);
      } else if (layer.options.bentuk === "segitiga") {
        ctx.moveTo(p.x, p.y - r);
        ctx.lineTo(p.x + r, p.y + r * 0.8);
        ctx.lineTo(p.x - r, p.y + r * 0.8);
        ctx.closePath();
      } else {
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      }
      this._fillStroke(ctx, layer);
    },
  });
  return L.CircleMarker.extend({
    _updatePath() { this._renderer._gambarBentuk(this); },
  });
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]));
}

function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

export class Peta {
  /** `wadah`: the map's element (with data-tile-url, data-tile-atribusi); `keterangan`: the
   *  count line; `buka(submission_id)`: opens a record. */
  constructor(wadah, {keterangan, buka}) {
    this.wadah = wadah;
    this.keterangan = keterangan;
    this.buka = buka;
    this.seq = 0;
    this.pilihan = null;   // {periode, kode_wilayah, status}
    this.timer = null;
    this.diam = false;     // a move made by the page itself (fitting the area) asks nothing
    this.terakhir = null;  // the last answer, for tests and the count line
    this.ikon = {};
    this.map = L.map(wadah, {minZoom: 4, maxZoom: 18, zoomSnap: 1, worldCopyJump: false});
    this.map.attributionControl.setPrefix("Leaflet");
    const url = wadah.dataset.tileUrl;
    if (url) {
      L.tileLayer(url, {maxZoom: 19, attribution: escapeHtml(wadah.dataset.tileAtribusi || "")}).addTo(this.map);
    } else {
      kisi().addTo(this.map);
    }
    this.lapisan = L.layerGroup().addTo(this.map);
    this.kanvas = L.canvas({padding: 0.2});
    this.Bentuk = bentukKanvas();
    this.kotak = null;
    this.map.fitBounds(INDONESIA);
    this.map.on("moveend", () => {
      if (this.diam || !this.pilihan) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.muat().catch(() => {}), JEDA_GERAK);
    });
  }

  /** Shows `kode_wilayah`'s records of `periode` (optionally one status): the whole area first,
   *  fitted to its points (or to its box, where the operator loaded one). */
  async tampilkan(pilihan) {
    this.pilihan = pilihan;
    const seq = ++this.seq;
    this.keterangan.textContent = "Memuat peta\u2026";
    const doc = await apiJson("/kampanye/titik", {params: pilihan});
    if (seq !== this.seq) return;
    if (this.kotak) { this.kotak.remove(); this.kotak = null; }
    const kw = doc.kotak_wilayah;
    if (kw) {
      this.kotak = L.rectangle([[kw.bbox[1], kw.bbox[0]], [kw.bbox[3], kw.bbox[2]]],
                               {className: "kotak-wilayah", interactive: false}).addTo(this.map);
    }
    const b = doc.bbox || (kw && kw.bbox);
    this.diam = true;
    try {
      this.map.invalidateSize();
      if (b) this.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [20, 20], maxZoom: 15, animate: false});
    } finally {
      this.diam = false;
    }
    if (!b) {
      this.gambar(doc);
      return;
    }
    await this.muat();
  }

  /** The points of what the map shows now. */
  async muat() {
    if (!this.pilihan) return;
    const seq = ++this.seq;
    const bounds = this.map.getBounds().pad(0.1);
    const bbox = [clamp(bounds.getWest(), -180, 180), clamp(bounds.getSouth(), -90, 90),
                  clamp(bounds.getEast(), -180, 180), clamp(bounds.getNorth(), -90, 90)].map((v) => v.toFixed(6)).join(",");
    const doc = await apiJson("/kampanye/titik", {params: {...this.pilihan, bbox, zoom: this.map.getZoom()}});
    if (seq !== this.seq) return;
    this.gambar(doc);
  }

  ikonTitik(status) {
    if (!this.ikon[status]) this.ikon[status] = L.divIcon({className: "titik titik-" + status, iconSize: [14, 14]});
    return this.ikon[status];
  }

  /** Puts an answer on the map: markers for points, badges for clusters. */
  gambar(doc) {
    this.terakhir = doc;
    const markers = [];
    const titik = doc.features.filter((f) => !f.properties.klaster).length;
    const kanvas = titik > ELEMEN_MAKS;
    for (const f of doc.features) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties;
      let m;
      if (p.klaster) {
        m = this.klaster(lat, lon, p);
      } else if (kanvas) {
        m = new this.Bentuk([lat, lon], {...GAYA[p.status], renderer: this.kanvas});
      } else {
        const judul = "Rekaman " + LABEL[p.status] + (p.submission_id ? " \u00b7 Enter atau klik untuk membuka" : "");
        m = L.marker([lat, lon], {icon: this.ikonTitik(p.status), title: judul, alt: judul, keyboard: Boolean(p.submission_id)});
      }
      if (!p.klaster && p.submission_id && this.buka) m.on("click", () => this.buka(p.submission_id));
      markers.push(m);
    }
    this.lapisan.clearLayers();
    for (const m of markers) this.lapisan.addLayer(m);
    this.wadah.dataset.titik = String(titik);
    this.wadah.dataset.kanvas = String(kanvas);
    const s = doc.per_status;
    let teks = angka(doc.jumlah) + " rekaman berlokasi di area ini (" + angka(s.masuk) + " masuk, " + angka(s.diterima) +
      " diterima, " + angka(s.ditolak) + " ditolak)";
    teks += doc.jenis === "klaster" ? "; ditampilkan berkelompok, perbesar peta untuk melihat titiknya." : ".";
    if (doc.lokasi_dibulatkan) teks += " Lokasi dibulatkan sekitar 1 km (data pribadi).";
    if (!doc.jumlah) teks = "Belum ada rekaman berlokasi di area ini.";
    this.keterangan.textContent = teks;
    this.wadah.dataset.jenis = doc.jenis;
    this.wadah.dataset.jumlah = String(doc.jumlah);
  }

  klaster(lat, lon, p) {
    const d = Math.round(24 + 5 * Math.log10(Math.max(1, p.jumlah)));
    const badge = el("span", null, "klaster");
    badge.append(el("span", p.jumlah >= 10000 ? Math.round(p.jumlah / 1000) + "rb" : angka(p.jumlah)));
    badge.style.setProperty("--masuk", (360 * p.masuk / p.jumlah) + "deg");
    badge.style.setProperty("--diterima", (360 * p.diterima / p.jumlah) + "deg");
    const judul = angka(p.jumlah) + " rekaman: " + angka(p.masuk) + " masuk, " + angka(p.diterima) + " diterima, " +
      angka(p.ditolak) + " ditolak \u00b7 klik untuk memperbesar";
    const m = L.marker([lat, lon], {
      icon: L.divIcon({className: "klaster-ikon", html: badge, iconSize: [d, d]}), title: judul, alt: judul, keyboard: true,
    });
    badge.style.width = d + "px";
    badge.style.height = d + "px";
    m.on("click", () => this.map.setView([lat, lon], Math.min(this.map.getZoom() + 2, this.map.getMaxZoom())));
    return m;
  }

  /** Forgets the area (the key changed). */
  kosongkan() {
    this.pilihan = null;
    this.seq++;
    this.lapisan.clearLayers();
    if (this.kotak) { this.kotak.remove(); this.kotak = null; }
    this.keterangan.textContent = "";
  }
}
