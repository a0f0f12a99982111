/**
 * Native vs TypeScript matrix products (x[n, 4096] · Wᵀ, W 4096×4096 in f32 / bf16 / f16) and the
 * machine's memory read bandwidth, for `npm run bench`. Decode (n = 1) cycles through several
 * copies of the weights (together far larger than the L3 cache) so every call streams its weights
 * from DRAM, as a real model's decode does; its GB/s is then comparable with the read bandwidth.
 */
import type { Matrix } from '../src/backend/backend.js';
import { loadNativeAddon } from '../src/backend/native/load.js';
import { NativeBackend } from '../src/backend/native/native-backend.js';
import { TsBackend } from '../src/backend/ts/ts-backend.js';
import { fromF32, type DType } from '../src/tensor/dtype.js';

const ROWS = 4096, COLS = 4096;
const COPIES = 6; // × 32–64 MB, well past a 32 MB L3
const ROUNDS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms of one product, each rep running over every matrix in `mats` once (after a warm-up). */
function timeProducts(run: (m: Matrix) => void, mats: Matrix[], reps: number): number {
  for (const m of mats) run(m);
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (const m of mats) run(m);
    ms.push((performance.now() - t) / mats.length);
  }
  return median(ms);
}

export function nativeKernelTables(): string[] {
  const loaded = loadNativeAddon();
  if (!loaded.addon) return [`(native backend not built: ${loaded.reason})`];
  const addon = loaded.addon;
  const native = new NativeBackend(addon);
  const ts = new TsBackend();
  const threads = addon.info().threads;
  const values = new Float32Array(ROWS * COLS).map((_, i) => Math.sin(i) * 0.01);
  const dtypes = ['f32', 'bf16', 'f16'] as DType[];
  const setups = dtypes.map((dtype) => {
    const data = fromF32(dtype, values);
    const tensor = { dtype, shape: [ROWS, COLS], data };
    return {
      dtype, bytes: data.byteLength,
      copies: Array.from({ length: COPIES }, () => native.uploadMatrix({ ...tensor, data: data.slice() })),
      tsMatrix: ts.uploadMatrix(tensor),
    };
  });

  // This machine's memory bandwidth drifts by tens of percent from one minute to the next (other
  // tenants), so decode speed and read bandwidth are measured in alternation and the best of the
  // rounds is kept for each (the least disturbed run of both).
  let bw = 0;
  let bw1 = 0;
  const decodeMs = new Map<DType, number>();
  const x1 = new Float32Array(COLS).fill(0.5), out1 = new Float32Array(ROWS);
  for (let round = 0; round < ROUNDS; round++) {
    bw = Math.max(bw, addon.readBandwidth(1 << 29, threads));
    if (threads > 1) bw1 = Math.max(bw1, addon.readBandwidth(1 << 29, 1));
    for (const s of setups) {
      const ms = timeProducts((m) => native.matmul(out1, x1, m, 1), s.copies, 3);
      decodeMs.set(s.dtype, Math.min(decodeMs.get(s.dtype) ?? Infinity, ms));
    }
  }
  const lines = [
    `Native backend: ${native.info().isa}, ${threads} threads. Memory read bandwidth (\`readBandwidth\`, 512 MiB buffer, best of ${ROUNDS} rounds): **${bw.toFixed(1)} GB/s** with ${threads} threads${threads > 1 ? `, ${bw1.toFixed(1)} GB/s with 1` : ''}.`,
    `Decode rows (n = 1) stream their weights from DRAM (${COPIES} copies used in turn) and are the best of the same ${ROUNDS} rounds.`,
    '',
    '| weights | n | backend | ms | GFLOP/s | weight GB/s | % of read bandwidth |',
    '|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const s of setups) {
    for (const n of [1, 64]) {
      const x = new Float32Array(n * COLS).fill(0.5);
      const out = new Float32Array(n * ROWS);
      const nativeMs = n === 1 ? decodeMs.get(s.dtype)! : timeProducts((m) => native.matmul(out, x, m, n), [s.copies[0]!], 5);
      const results: Array<[string, number]> = [
        ['native', nativeMs],
        ['typescript', timeProducts((m) => ts.matmul(out, x, m, n), [s.tsMatrix], n === 1 ? 3 : 1)],
      ];
      for (const [name, ms] of results) {
        const gbs = s.bytes / (ms * 1e6);
        lines.push(`| ${s.dtype} ${ROWS}×${COLS} | ${n} | ${name} | ${ms.toFixed(2)} | ${((2 * ROWS * COLS * n) / (ms * 1e6)).toFixed(1)} | ${gbs.toFixed(1)} | ${n === 1 ? `${((100 * gbs) / bw).toFixed(0)} %` : '–'} |`);
      }
    }
  }
  return lines;
}
