/* The wilayah choice both pages share (app/web/pages): selects chained from the top down
 * (provinsi -> kabupaten/kota -> kecamatan -> desa/kelurahan, or any run of them), each filled
 * from GET /api/v1/wilayah with the children of the one above. The page decides which levels it
 * shows and which of them the key fixes; this module only fills, chains and chooses.
 *
 * A level whose parent is not chosen holds only its "all" option and is disabled, as are the
 * levels below it, so a choice never stands under a parent it does not belong to. */
import {apiJson, gagal} from "/static/kumkm/kumkm.js";

/** The wilayah directly under `parent` (null: the provinsi), as the API lists them. */
export async function wilayahDi(parent) {
  return (await apiJson("/wilayah", {params: {parent}})).items;
}

/** `select` holds `items` (by name, valued by kode), after a first option `semua` with the value
 *  "" unless `semua` is null. */
export function isiPilihan(select, items, semua) {
  select.replaceChildren();
  if (semua !== null) select.add(new Option(semua, ""));
  for (const w of items) select.add(new Option(w.nama, w.kode));
}

/** `kode` lies in `induk` when it is induk itself or one of its descendants
 *  ("16.07.01" lies in "16.07", not in "16.0"). */
function termasuk(kode, induk) {
  return kode === induk || kode.startsWith(induk + ".");
}

/** Chained wilayah selects. `tingkat` lists them from the top: {select, semua} with `semua` the
 *  label of the "all" option (null: none, the page fills that level itself). Choosing in one
 *  refills the one below from the API, then calls `berubah(i, kode)`: the page's own reaction
 *  (reload its data), after the levels below are in. */
export class PilihanWilayah {
  constructor(tingkat, {berubah} = {}) {
    this.tingkat = tingkat;
    this.seq = tingkat.map(() => 0);  // a slow answer for an earlier parent must not overwrite a newer one
    tingkat.slice(0, -1).forEach(({select}, i) => {
      select.addEventListener("change", async () => {
        try {
          // a choice overtaken by a newer one before its children came in is not the page's
          if (await this.isi(i + 1, select.value) && berubah) await berubah(i, select.value);
        } catch (e) {
          gagal(e);
        }
      });
    });
  }

  /** Level i holds the children of `parent` (null: the provinsi; "": nothing chosen above, the
   *  level is disabled); the levels below are emptied. False when a newer choice overtook it. */
  async isi(i, parent) {
    const {select, semua} = this.tingkat[i];
    const seq = ++this.seq[i];
    this.kosongkan(i + 1);
    if (parent === "") {
      isiPilihan(select, [], semua);
      select.disabled = true;
      return true;
    }
    const items = await wilayahDi(parent);
    if (seq !== this.seq[i]) return false;
    isiPilihan(select, items, semua);
    select.disabled = false;
    return true;
  }

  /** Level i holds only `items`, disabled: the wilayah a key is fixed to. */
  tetap(i, items) {
    const {select} = this.tingkat[i];
    this.seq[i]++;
    isiPilihan(select, items, null);
    select.disabled = true;
  }

  /** Chooses `kode` (a wilayah from the page's address) level by level, as far as the levels
   *  offer it: each level takes the option `kode` lies in, the level below is refilled when that
   *  changed its choice, and the first level without one stops the walk, left as it was. */
  async pilih(kode) {
    for (const [i, {select}] of this.tingkat.entries()) {
      const opt = kode ? [...select.options].find((o) => o.value && termasuk(kode, o.value)) : undefined;
      if (!opt) return;
      if (select.value !== opt.value) {
        select.value = opt.value;
        if (i + 1 < this.tingkat.length) await this.isi(i + 1, opt.value);
      }
    }
  }

  /** The deepest wilayah chosen ("" when none). */
  nilai() {
    for (const {select} of this.tingkat.slice().reverse()) if (select.value) return select.value;
    return "";
  }

  /** From level i down: only the "all" option, disabled (no parent chosen). */
  kosongkan(i) {
    for (const [j, {select, semua}] of this.tingkat.entries()) {
      if (j < i) continue;
      this.seq[j]++;
      isiPilihan(select, [], semua);
      select.disabled = true;
    }
  }
}
