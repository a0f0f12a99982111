/**
 * Loss curves for fine-tuning runs, like LLaMA-Factory's `--plot_loss`: a CSV of the logged points and a
 * PNG plot drawn with no dependency beyond node:zlib (8-bit RGB, filter type 0 on every scanline).
 *
 * The plot: white background, axes, training loss (blue), its exponential moving average (darker blue,
 * weight 0.9), evaluation loss (orange line with markers) where present, min/max tick labels on both axes
 * and a title, all text in a built-in 5×7 bitmap font. Non-finite steps or losses are skipped.
 */

import fs from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../formats/crc32.js';
import { writeFileAtomic } from '../formats/file-io.js';

export type LossPoint = { step: number; loss: number; evalLoss?: number; lr?: number; tokensPerSecond?: number };
export type LossPlotOptions = { width?: number; height?: number; title?: string };
/** Inclusive pixel rectangle the data is mapped onto; the axes sit just outside it. */
export type PlotArea = { left: number; top: number; right: number; bottom: number };
export type LossBounds = { minStep: number; maxStep: number; minLoss: number; maxLoss: number };
export type Rgb = readonly [number, number, number];

export const PLOT_COLORS = {
  background: [255, 255, 255] as Rgb,
  axis: [0, 0, 0] as Rgb,
  text: [40, 40, 40] as Rgb,
  loss: [31, 119, 180] as Rgb,
  smoothed: [8, 48, 107] as Rgb,
  eval: [255, 127, 14] as Rgb,
} as const;

export const SMOOTHING_WEIGHT = 0.9;

// ---------------------------------------------------------------------------------------------- CSV

function csvNumber(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/** `step,loss,eval_loss,lr,tokens_per_second`, one line per point, empty cells where a value is absent. */
export function lossCsv(points: LossPoint[]): string {
  const lines = ['step,loss,eval_loss,lr,tokens_per_second'];
  for (const p of points) {
    lines.push([p.step, p.loss, p.evalLoss, p.lr, p.tokensPerSecond].map(csvNumber).join(','));
  }
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------------------------------------ mapping

/** Exponential moving average seeded with the first value: s_i = w·s_{i−1} + (1 − w)·x_i. */
export function smoothLoss(values: number[], weight = SMOOTHING_WEIGHT): number[] {
  const out: number[] = [];
  let last = values[0] ?? 0;
  for (const v of values) {
    last = last * weight + (1 - weight) * v;
    out.push(last);
  }
  return out;
}

/** Font scale used for a given image size (2 for the default 800×480, 1 for small images). */
export function fontScale(width: number, height: number): number {
  return width >= 480 && height >= 300 ? 2 : 1;
}

/** The data rectangle for an image size; margins leave room for the title, legend and tick labels. */
export function plotArea(width: number, height: number): PlotArea {
  const s = fontScale(width, height);
  const charW = 6 * s, charH = 7 * s;
  return {
    left: 8 * charW + 16,
    top: 8 + charH + 6 + charH + 10,
    right: width - 20,
    bottom: height - (2 * charH + 24),
  };
}

const finite = (...vs: number[]): boolean => vs.every(Number.isFinite);

/** Step and loss ranges over the finite training and evaluation losses ({0,1,0,1} when there are none). */
export function lossBounds(points: LossPoint[]): LossBounds {
  let minStep = Infinity, maxStep = -Infinity, minLoss = Infinity, maxLoss = -Infinity;
  const add = (step: number, loss: number | undefined): void => {
    if (loss === undefined || !finite(step, loss)) return;
    minStep = Math.min(minStep, step); maxStep = Math.max(maxStep, step);
    minLoss = Math.min(minLoss, loss); maxLoss = Math.max(maxLoss, loss);
  };
  for (const p of points) { add(p.step, p.loss); add(p.step, p.evalLoss); }
  if (minStep > maxStep) return { minStep: 0, maxStep: 1, minLoss: 0, maxLoss: 1 };
  return { minStep, maxStep, minLoss, maxLoss };
}

/** Pixel position of (step, loss); a zero-width range maps to the middle of the area. */
export function toPixel(step: number, loss: number, bounds: LossBounds, area: PlotArea): [number, number] {
  const fx = bounds.maxStep > bounds.minStep ? (step - bounds.minStep) / (bounds.maxStep - bounds.minStep) : 0.5;
  const fy = bounds.maxLoss > bounds.minLoss ? (loss - bounds.minLoss) / (bounds.maxLoss - bounds.minLoss) : 0.5;
  return [area.left + Math.round(fx * (area.right - area.left)), area.bottom - Math.round(fy * (area.bottom - area.top))];
}

// ------------------------------------------------------------------------------------------- raster

class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.rgb = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.rgb[i] = c[0]; this.rgb[i + 1] = c[1]; this.rgb[i + 2] = c[2];
  }
  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let dy = 0; dy < h; dy++) for (let dx = 0; dx < w; dx++) this.set(x + dx, y + dy, c);
  }
  /** Bresenham line; thickness t stamps a t×t block at each pixel (top-left at the pixel). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, t = 1): void {
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.rect(x0, y0, t, t, c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  disc(cx: number, cy: number, r: number, c: Rgb): void {
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r) this.set(cx + dx, cy + dy, c);
  }
  text(s: string, x: number, y: number, c: Rgb, scale: number): void {
    for (const ch of s.toLowerCase()) {
      const glyph = FONT[ch] ?? FONT['?']!;
      for (let row = 0; row < 7; row++) {
        const bits = parseInt(glyph.slice(row * 2, row * 2 + 2), 16);
        for (let col = 0; col < 5; col++) if (bits & (0x10 >> col)) this.rect(x + col * scale, y + row * scale, scale, scale, c);
      }
      x += 6 * scale;
    }
  }
}

const textWidth = (s: string, scale: number): number => Math.max(0, s.length * 6 * scale - scale);

/** 5×7 glyphs, 7 rows of 5 bits (bit 4 = leftmost) as hex pairs; letters are drawn in capitals. */
const FONT: Record<string, string> = {
  '0': '0e11131519110e', '1': '040c040404040e', '2': '0e11010204081f', '3': '1f02040201110e',
  '4': '02060a121f0202', '5': '1f101e0101110e', '6': '0608101e11110e', '7': '1f010204080808',
  '8': '0e11110e11110e', '9': '0e11110f01020c',
  'a': '0e11111f111111', 'b': '1e11111e11111e', 'c': '0e11101010110e', 'd': '1c12111111121c',
  'e': '1f10101e10101f', 'f': '1f10101e101010', 'g': '0e11101711110f', 'h': '1111111f111111',
  'i': '0e04040404040e', 'j': '0702020202120c', 'k': '11121418141211', 'l': '1010101010101f',
  'm': '111b1515111111', 'n': '11111915131111', 'o': '0e11111111110e', 'p': '1e11111e101010',
  'q': '0e11111115120d', 'r': '1e11111e141211', 's': '0f10100e01011e', 't': '1f040404040404',
  'u': '1111111111110e', 'v': '11111111110a04', 'w': '1111111515150a', 'x': '11110a040a1111',
  'y': '1111110a040404', 'z': '1f01020408101f',
  '.': '00000000000c0c', ':': '000c0c000c0c00', '-': '0000001f000000', '_': '0000000000001f',
  '+': '0004041f040400', '?': '0e110102040004', ' ': '00000000000000',
};

// ---------------------------------------------------------------------------------------------- PNG

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes packed 8-bit RGB pixels (row-major, width·height·3 bytes) as a PNG, filter type 0 on every row. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`encodePng: expected ${width * height * 3} bytes, got ${rgb.length}`);
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width); view.setUint32(4, height);
  ihdr[8] = 8; ihdr[9] = 2; // bit depth 8, colour type 2 (RGB); compression, filter, interlace 0
  const stride = width * 3;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', new Uint8Array(deflateSync(raw))),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// --------------------------------------------------------------------------------------------- plot

function tickLabel(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 1e7 ? String(v) : String(Number(v.toPrecision(4)));
}

/** Draws the loss curves and returns PNG bytes (default 800×480). */
export function lossPlotPng(points: LossPoint[], options: LossPlotOptions = {}): Uint8Array {
  const width = options.width ?? 800, height = options.height ?? 480;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 160 || height < 120 || width > 8192 || height > 8192) {
    throw new RangeError(`lossPlotPng: size must be integers from 160×120 to 8192×8192, got ${width}×${height}`);
  }
  const C = PLOT_COLORS;
  const s = fontScale(width, height), charH = 7 * s;
  const canvas = new Canvas(width, height);
  const area = plotArea(width, height);
  const bounds = lossBounds(points);
  const sorted = [...points].sort((a, b) => a.step - b.step);
  const train = sorted.filter((p) => finite(p.step, p.loss));
  const evals = sorted.filter((p) => p.evalLoss !== undefined && finite(p.step, p.evalLoss));

  // Title and legend.
  const title = options.title ?? 'training loss';
  canvas.text(title, Math.max(4, Math.round((width - textWidth(title, s)) / 2)), 8, C.text, s);
  const legend: [string, Rgb][] = [['loss', C.loss], ['smoothed', C.smoothed]];
  if (evals.length > 0) legend.push(['eval loss', C.eval]);
  let lx = area.right, ly = 8 + charH + 6;
  for (const [label, color] of legend.reverse()) {
    lx -= textWidth(label, s);
    canvas.text(label, lx, ly, C.text, s);
    lx -= 4 * s + 12 * s;
    canvas.rect(lx, ly + 3 * s, 12 * s, s, color);
    lx -= 8 * s;
  }

  // Axes with ticks at the min/max positions.
  const ax = area.left - 5, ay = area.bottom + 5;
  canvas.line(ax, area.top - 5, ax, ay, C.axis);
  canvas.line(ax, ay, area.right + 5, ay, C.axis);
  const [x0, yMin] = toPixel(bounds.minStep, bounds.minLoss, bounds, area);
  const [x1, yMax] = toPixel(bounds.maxStep, bounds.maxLoss, bounds, area);
  const labelY = ay + 8;
  for (const x of new Set([x0, x1])) canvas.line(x, ay, x, ay + 4, C.axis);
  for (const y of new Set([yMin, yMax])) canvas.line(ax - 4, y, ax, y, C.axis);
  const minStepLabel = tickLabel(bounds.minStep), maxStepLabel = tickLabel(bounds.maxStep);
  if (x0 === x1) {
    canvas.text(minStepLabel, x0 - Math.round(textWidth(minStepLabel, s) / 2), labelY, C.text, s);
  } else {
    canvas.text(minStepLabel, x0, labelY, C.text, s);
    canvas.text(maxStepLabel, x1 - textWidth(maxStepLabel, s) + 1, labelY, C.text, s);
  }
  canvas.text('step', Math.round((area.left + area.right - textWidth('step', s)) / 2), labelY + charH + 8, C.text, s);
  const yLabel = (v: number, y: number): void => {
    const t = tickLabel(v);
    canvas.text(t, ax - 8 - textWidth(t, s), y - Math.round(charH / 2), C.text, s);
  };
  yLabel(bounds.minLoss, yMin);
  if (yMax !== yMin) yLabel(bounds.maxLoss, yMax);
  if (yMin - yMax > 4 * charH) canvas.text('loss', 8, Math.round((area.top + area.bottom - charH) / 2), C.text, s);

  // Curves: raw training loss, its moving average, then evaluation loss on top.
  const poly = (pts: [number, number][], color: Rgb, t: number): void => {
    if (pts.length === 1) canvas.rect(pts[0]![0], pts[0]![1], t, t, color);
    for (let i = 1; i < pts.length; i++) canvas.line(pts[i - 1]![0], pts[i - 1]![1], pts[i]![0], pts[i]![1], color, t);
  };
  poly(train.map((p) => toPixel(p.step, p.loss, bounds, area)), C.loss, 1);
  const smooth = smoothLoss(train.map((p) => p.loss));
  poly(train.map((p, i) => toPixel(p.step, smooth[i]!, bounds, area)), C.smoothed, 2);
  const evalPixels = evals.map((p) => toPixel(p.step, p.evalLoss!, bounds, area));
  poly(evalPixels, C.eval, 1);
  for (const [x, y] of evalPixels) canvas.disc(x, y, s + 1, C.eval);

  return encodePng(width, height, canvas.rgb);
}

// -------------------------------------------------------------------------------------------- files

/** Writes `loss.csv` and `loss.png` into `dir` (created if missing), each via a temporary file and rename. */
export function writeLossFiles(dir: string, points: LossPoint[], title?: string): { csv: string; png: string } {
  fs.mkdirSync(dir, { recursive: true });
  const csv = path.join(dir, 'loss.csv'), png = path.join(dir, 'loss.png');
  writeFileAtomic(csv, lossCsv(points));
  const bytes = lossPlotPng(points, title === undefined ? {} : { title });
  const tmp = path.join(dir, `.loss.png.${process.pid}.tmp`);
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, png);
  return { csv, png };
}
