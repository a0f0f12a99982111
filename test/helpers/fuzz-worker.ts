/**
 * Runs one fuzz target's cases (see fuzz.ts) inside a worker thread, posting each case before it
 * runs so that the main thread can name a case that hangs, and a report at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { FUZZ_CASE_LIMIT_MS, FuzzRng, oracleViolation, type FuzzBug, type FuzzReport, type FuzzTarget, type WorkerMessage } from './fuzz.js';

interface Data { module: string; exportName: string; cases: number; seed: number }

const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

async function main(): Promise<void> {
  const data = workerData as Data;
  // @huggingface/tokenizers warns on the console about every odd pattern it meets; thousands of cases are noise.
  console.warn = () => {};
  console.log = () => {};
  const mod = (await import(data.module)) as Record<string, FuzzTarget>;
  const target = mod[data.exportName];
  if (!target) throw new Error(`${data.module} has no export ${data.exportName}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xverse-fuzz-'));
  try {
    const context = target.setup(dir);
    const base = process.memoryUsage();
    const errors: Record<string, number> = {};
    const bugs: FuzzBug[] = [];
    let passed = 0;
    let maxCaseMs = 0;
    let slowest = '';
    let maxBuffers = 0;
    let maxRss = 0;
    const started = performance.now();
    for (let index = 0; index < data.cases; index++) {
      // Each case has its own seed, so any one can be rebuilt from (seed, index) alone.
      const rng = new FuzzRng((data.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
      const c = target.make(context, rng, index);
      post({ type: 'start', index, what: c.what });
      const t0 = performance.now();
      try {
        c.run();
        passed++;
      } catch (err) {
        const problem = oracleViolation(err, c.names);
        if (problem === null) errors[(err as Error).name] = (errors[(err as Error).name] ?? 0) + 1;
        else bugs.push({ index, what: c.what, problem });
      }
      const ms = performance.now() - t0;
      if (ms > maxCaseMs) {
        maxCaseMs = ms;
        slowest = `#${index} ${c.what}`;
      }
      if (ms > FUZZ_CASE_LIMIT_MS) bugs.push({ index, what: c.what, problem: `took ${ms.toFixed(0)} ms (limit ${FUZZ_CASE_LIMIT_MS} ms)` });
      const m = process.memoryUsage();
      maxBuffers = Math.max(maxBuffers, m.arrayBuffers - base.arrayBuffers);
      maxRss = Math.max(maxRss, m.rss - base.rss);
      if (bugs.length >= 20) break;
    }
    const report: FuzzReport = {
      cases: data.cases, passed, errors, bugs, maxCaseMs, slowest, totalMs: performance.now() - started,
      maxArrayBufferGrowth: maxBuffers, maxRssGrowth: maxRss,
    };
    post({ type: 'report', report });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => post({ type: 'error', message: `fuzz worker failed: ${(err as Error)?.stack ?? String(err)}` }));
