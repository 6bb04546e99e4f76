/* What both measured pages share (bench/grafik.py): the moment the chart is on screen is the
 * end of the frame after it was drawn (a rAF, then a task after that frame's paint). */
export function selesai(t0, pilih) {
  const digambar = performance.now();
  requestAnimationFrame(() => setTimeout(() => {
    const b = document.body.dataset;
    b.gambarMs = String(digambar - t0);
    b.pertamaMs = String(performance.now());
    b.ada = String(document.querySelector(pilih) !== null);
  }, 0));
}
