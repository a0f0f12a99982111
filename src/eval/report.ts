import path from 'node:path';
import { XverseError } from '../errors.js';
import type { BenchmarkName } from './prompts.js';
import { BENCHMARK_TITLES, type EvalResults } from './results.js';

/**
 * XVERSE's published scores (XVERSE-13B README, 5-shot; base models), for `--published`: a user can
 * put our numbers beside them. MMLU for XVERSE-13B-Chat by precision comes from its quantization table.
 */
export const PUBLISHED: Record<string, Partial<Record<BenchmarkName, number>>> = {
  'XVERSE-13B (published)': { ceval: 54.7, cmmlu: 59.1, mmlu: 55.1 },
  'XVERSE-13B-2 (published)': { ceval: 63.5, cmmlu: 66.2, mmlu: 61.2 },
};

/** A model's short name: its folder's (or GGUF file's) name. */
export function modelName(modelPath: string): string {
  return path.basename(modelPath.replace(/[\\/]+$/, '')).replace(/\.gguf$/i, '') || modelPath;
}

/** A column's name: the model's short name, with its quantization when there was one. */
export function modelLabel(r: EvalResults): string {
  const name = modelName(r.settings.model);
  return r.settings.quantize ? `${name} (${r.settings.quantize})` : name;
}

/**
 * XVERSE's results-table layout: one row per dataset and shot count, one column per model, scores
 * in % (question-weighted accuracy) with one decimal. Runs of the same model on the same dataset
 * may not repeat (which would be ambiguous); incomplete runs are marked with an asterisk.
 */
export function renderReport(runs: ReadonlyArray<{ file: string; results: EvalResults }>, options: { published?: boolean } = {}): string {
  if (runs.length === 0) throw new XverseError('report: no results files given');
  const columns: string[] = [];
  const rows: Array<{ benchmark: BenchmarkName; shots: number }> = [];
  const cells = new Map<string, { text: string; file: string }>();
  for (const { file, results } of runs) {
    const label = modelLabel(results);
    if (!columns.includes(label)) columns.push(label);
    const { benchmark, shots } = results.settings;
    if (!rows.some((r) => r.benchmark === benchmark && r.shots === shots)) rows.push({ benchmark, shots });
    const key = `${benchmark}|${shots}|${label}`;
    const earlier = cells.get(key);
    if (earlier) throw new XverseError(`report: ${earlier.file} and ${file} are both ${BENCHMARK_TITLES[benchmark]} ${shots}-shot runs of ${label}; give one`);
    const text = results.summary.overall.accuracy.toFixed(1) + (results.complete ? '' : '*');
    cells.set(key, { text, file });
  }
  const order: BenchmarkName[] = ['ceval', 'cmmlu', 'mmlu'];
  rows.sort((a, b) => order.indexOf(a.benchmark) - order.indexOf(b.benchmark) || a.shots - b.shots);
  const published = options.published ? Object.keys(PUBLISHED) : [];
  const header = ['Dataset', 'Shots', ...columns, ...published];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => {
      const ours = columns.map((c) => cells.get(`${r.benchmark}|${r.shots}|${c}`)?.text ?? '–');
      const theirs = published.map((p) => (r.shots === 5 ? PUBLISHED[p]![r.benchmark]?.toFixed(1) : undefined) ?? '–');
      return `| ${BENCHMARK_TITLES[r.benchmark]} | ${r.shots}-shot | ${[...ours, ...theirs].join(' | ')} |`;
    }),
  ];
  const notes = [];
  if ([...cells.values()].some((c) => c.text.endsWith('*'))) notes.push('\\* incomplete run (not every question scored).');
  notes.push('Scores: question-weighted accuracy in %.');
  return lines.join('\n') + '\n\n' + notes.join(' ') + '\n';
}
