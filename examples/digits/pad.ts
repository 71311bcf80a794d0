/**
 * The drawing pad: light ink on a black canvas, as scikit-learn's digits store them (ink high,
 * background 0), drawn with pointer events (mouse, pen and touch alike). `onChange` is called as
 * a stroke grows and when it ends.
 */
export function drawingPad(canvas: HTMLCanvasElement, onChange: () => void): { clear(): void } {
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  // About a tenth of a digit's height, like the strokes of the data set's 32×32 bitmaps.
  ctx.lineWidth = canvas.width / 12;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.strokeStyle = '#fff';
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  const line = (to: [number, number]) => {
    ctx.beginPath();
    ctx.moveTo(...(last ?? to));
    ctx.lineTo(...to);
    ctx.stroke();
    last = to;
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = null;
    line(at(e));
    onChange();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!canvas.hasPointerCapture(e.pointerId)) return;
    line(at(e));
    onChange();
  });
  const end = (e: PointerEvent) => {
    if (!canvas.hasPointerCapture(e.pointerId)) return;
    canvas.releasePointerCapture(e.pointerId);
    last = null;
    onChange();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  return { clear };
}

/**
 * The drawing as the data set frames its digits: the ink's bounding box, centred in a square of
 * its longer side (copied 1:1, so nothing is filtered here); null when nothing is drawn. The
 * digits' 32×32 bitmaps are framed the same way (a digit fills the height), and imageToInput's
 * area averaging then reduces the square to 8×8 as the data set's 4×4 block counts did.
 */
export function framedDrawing(canvas: HTMLCanvasElement): HTMLCanvasElement | null {
  const { data, width, height } = canvas.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, canvas.width, canvas.height);
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4]! === 0) continue;
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  if (x1 < 0) return null;
  const [w, h] = [x1 - x0 + 1, y1 - y0 + 1];
  const side = Math.max(w, h);
  const square = Object.assign(document.createElement('canvas'), { width: side, height: side });
  const ctx = square.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, side, side);
  ctx.drawImage(canvas, x0, y0, w, h, Math.floor((side - w) / 2), Math.floor((side - h) / 2), w, h);
  return square;
}
