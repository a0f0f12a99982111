import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { crc32 } from '../../src/formats/crc32.js';
import {
  lossBounds, lossCsv, lossPlotPng, plotArea, PLOT_COLORS, smoothLoss, toPixel, writeLossFiles, type LossPoint, type Rgb,
} from '../../src/train/plot.js';

type Decoded = { width: number; height: number; bitDepth: number; colorType: number; rows: Uint8Array; chunks: string[] };

/** Parses a PNG, checking the signature and every chunk's CRC, and inflates the IDAT data. */
function decodePng(png: Uint8Array): Decoded {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: string[] = [];
  const idat: Uint8Array[] = [];
  let width = 0, height = 0, bitDepth = 0, colorType = 0;
  let at = 8;
  while (at < png.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    assert.equal(view.getUint32(at + 8 + len), crc32(png.subarray(at + 4, at + 8 + len)), `CRC of ${type}`);
    chunks.push(type);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8); height = view.getUint32(at + 12);
      bitDepth = data[8]!; colorType = data[9]!;
      assert.deepEqual([...data.subarray(10)], [0, 0, 0]);
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  assert.equal(at, png.length);
  const rows = new Uint8Array(inflateSync(Buffer.concat(idat)));
  return { width, height, bitDepth, colorType, rows, chunks };
}

function pixel(d: Decoded, x: number, y: number): Rgb {
  const i = y * (1 + d.width * 3) + 1 + x * 3;
  return [d.rows[i]!, d.rows[i + 1]!, d.rows[i + 2]!];
}

const WHITE: Rgb = [255, 255, 255];

test('lossCsv writes the header, one line per point and empty cells where absent', () => {
  const points: LossPoint[] = [
    { step: 1, loss: 2.345678912, lr: 2e-5, tokensPerSecond: 1234.5678 },
    { step: 2, loss: 2.1, evalLoss: 2.25 },
    { step: 3, loss: 1.9876543, evalLoss: 2.0000001, lr: 1e-7, tokensPerSecond: 1500 },
  ];
  assert.equal(lossCsv(points),
    'step,loss,eval_loss,lr,tokens_per_second\n' +
    '1,2.34568,,0.00002,1234.57\n' +
    '2,2.1,2.25,,\n' +
    '3,1.98765,2,1e-7,1500\n');
  assert.equal(lossCsv([]), 'step,loss,eval_loss,lr,tokens_per_second\n');
  assert.equal(lossCsv([{ step: 4, loss: NaN, evalLoss: Infinity }]).split('\n')[1], '4,nan,inf,,');
});

test('smoothLoss is an exponential moving average with weight 0.9 seeded by the first value', () => {
  const s = smoothLoss([4, 1, 4]);
  assert.equal(s[0], 4);
  assert.ok(Math.abs(s[1]! - 3.7) < 1e-12);
  assert.ok(Math.abs(s[2]! - (3.7 * 0.9 + 0.4)) < 1e-12);
  assert.deepEqual(smoothLoss([]), []);
});

test('lossPlotPng produces a valid 8-bit RGB PNG with unfiltered rows', () => {
  const points: LossPoint[] = Array.from({ length: 50 }, (_, i) => ({ step: i * 10, loss: 3 / (1 + i * 0.1) }));
  const d = decodePng(lossPlotPng(points, { title: 'Run 1: lr 2e-5' }));
  assert.deepEqual([d.width, d.height, d.bitDepth, d.colorType], [800, 480, 8, 2]);
  assert.deepEqual(d.chunks, ['IHDR', 'IDAT', 'IEND']);
  assert.equal(d.rows.length, d.height * (1 + d.width * 3));
  for (let y = 0; y < d.height; y++) assert.equal(d.rows[y * (1 + d.width * 3)], 0, `filter byte of row ${y}`);

  const small = decodePng(lossPlotPng(points, { width: 320, height: 200 }));
  assert.deepEqual([small.width, small.height], [320, 200]);
  assert.equal(small.rows.length, 200 * (1 + 320 * 3));
  assert.throws(() => lossPlotPng(points, { width: 10 }), RangeError);
});

test('lossPlotPng draws the training loss, eval points and a white background at the mapped positions', () => {
  // Alternating losses keep the raw line far from its moving average at step 10.
  const points: LossPoint[] = [
    { step: 0, loss: 4 }, { step: 10, loss: 1, evalLoss: 2.5 }, { step: 20, loss: 4 }, { step: 30, loss: 1, evalLoss: 3.5 },
  ];
  const d = decodePng(lossPlotPng(points));
  const area = plotArea(800, 480);
  const bounds = lossBounds(points);
  assert.deepEqual(bounds, { minStep: 0, maxStep: 30, minLoss: 1, maxLoss: 4 });

  assert.deepEqual(pixel(d, area.left + 1, area.bottom - 1), WHITE, 'bottom-left corner of the plot area');
  assert.deepEqual(pixel(d, area.right - 1, area.top + 1), WHITE, 'top-right corner of the plot area');
  const [lx, ly] = toPixel(10, 1, bounds, area);
  assert.equal(ly, area.bottom);
  assert.deepEqual(pixel(d, lx, ly), PLOT_COLORS.loss);
  const [ex1, ey1] = toPixel(10, 2.5, bounds, area);
  const [ex2, ey2] = toPixel(30, 3.5, bounds, area);
  assert.deepEqual(pixel(d, ex1, ey1), PLOT_COLORS.eval);
  assert.deepEqual(pixel(d, ex2, ey2), PLOT_COLORS.eval);
  // The moving average passes through 3.7 at step 10.
  const [sx, sy] = toPixel(10, smoothLoss([4, 1])[1]!, bounds, area);
  assert.deepEqual(pixel(d, sx, sy), PLOT_COLORS.smoothed);
  // Something (axes, labels) is drawn outside the plot area.
  let dark = 0;
  for (let y = 0; y < d.height; y++) for (let x = 0; x < area.left - 2; x++) if (pixel(d, x, y)[0] < 128) dark++;
  assert.ok(dark > 20, 'tick labels left of the plot');
});

test('single point, constant loss, no points and non-finite losses do not throw', () => {
  const area = plotArea(800, 480);
  const single = decodePng(lossPlotPng([{ step: 5, loss: 2 }]));
  const [cx, cy] = toPixel(5, 2, lossBounds([{ step: 5, loss: 2 }]), area);
  assert.deepEqual([cx, cy], [Math.round((area.left + area.right) / 2) , area.bottom - Math.round((area.bottom - area.top) / 2)]);
  assert.deepEqual(pixel(single, cx, cy), PLOT_COLORS.smoothed);

  const flat: LossPoint[] = [{ step: 0, loss: 1.5 }, { step: 1, loss: 1.5 }, { step: 2, loss: 1.5 }];
  const flatPng = decodePng(lossPlotPng(flat));
  const [, fy] = toPixel(1, 1.5, lossBounds(flat), area);
  assert.notDeepEqual(pixel(flatPng, Math.round((area.left + area.right) / 2), fy), WHITE);

  decodePng(lossPlotPng([]));

  const withNaN: LossPoint[] = [
    { step: 0, loss: 3 }, { step: 1, loss: NaN }, { step: 2, loss: Infinity }, { step: 3, loss: 1, evalLoss: NaN }, { step: NaN, loss: 0 },
  ];
  assert.deepEqual(lossBounds(withNaN), { minStep: 0, maxStep: 3, minLoss: 1, maxLoss: 3 });
  const n = decodePng(lossPlotPng(withNaN));
  assert.deepEqual(pixel(n, ...toPixel(3, 1, lossBounds(withNaN), area)), PLOT_COLORS.loss);
});

test('writeLossFiles writes loss.csv and loss.png into a new directory', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xverse-plot-'));
  try {
    const dir = path.join(root, 'run', 'out');
    const points: LossPoint[] = [{ step: 1, loss: 2 }, { step: 2, loss: 1.5, evalLoss: 1.7 }];
    const files = writeLossFiles(dir, points, 'test run');
    assert.deepEqual(files, { csv: path.join(dir, 'loss.csv'), png: path.join(dir, 'loss.png') });
    assert.equal(fs.readFileSync(files.csv, 'utf8'), lossCsv(points));
    assert.deepEqual(new Uint8Array(fs.readFileSync(files.png)), lossPlotPng(points, { title: 'test run' }));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['loss.csv', 'loss.png']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
