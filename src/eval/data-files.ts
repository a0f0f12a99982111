import fs from 'node:fs';
import path from 'node:path';
import { DatasetError } from '../errors.js';
import type { BenchmarkName } from './prompts.js';

/**
 * Where each benchmark keeps a subject's split, in the layouts their releases use:
 * MMLU (hendrycks/test data/): dev/{s}_dev.csv, val/{s}_val.csv, test/{s}_test.csv;
 * C-Eval (ceval-exam): dev/{s}_dev.csv, val/{s}_val.csv, test/{s}_test.csv (test has no answers);
 * CMMLU (data/): dev/{s}.csv, test/{s}.csv.
 */
function fileName(benchmark: BenchmarkName, split: string, subject: string): string {
  return benchmark === 'cmmlu' ? `${subject}.csv` : `${subject}_${split}.csv`;
}

export function splitFile(benchmark: BenchmarkName, dataDir: string, split: string, subject: string): string {
  return path.join(dataDir, split, fileName(benchmark, split, subject));
}

/** The split each benchmark is scored on by default (C-Eval's test answers are not public). */
export function defaultSplit(benchmark: BenchmarkName): string {
  return benchmark === 'ceval' ? 'val' : 'test';
}

/** Subjects that have a file in `dataDir/split`, sorted as the reference scripts sort them. */
export function listSubjects(benchmark: BenchmarkName, dataDir: string, split: string): string[] {
  const dir = path.join(dataDir, split);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new DatasetError(`${dir}: no such folder (expected ${path.join(dir, fileName(benchmark, split, '<subject>'))} files)`);
  }
  const suffix = benchmark === 'cmmlu' ? '.csv' : `_${split}.csv`;
  const subjects = names.filter((n) => n.endsWith(suffix)).map((n) => n.slice(0, -suffix.length)).sort();
  if (subjects.length === 0) throw new DatasetError(`${dir}: no ${path.join(dir, fileName(benchmark, split, '<subject>'))} files`);
  return subjects;
}
