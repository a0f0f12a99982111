import fs from 'node:fs';
import path from 'node:path';
import { resultsCsv, resultsMarkdown, type EvalResults } from './results.js';

/** The three files a run writes: FILE.json (everything, also what --resume reads), .csv and .md. */
export function outputPaths(jsonPath: string): { json: string; csv: string; md: string } {
  const base = jsonPath.toLowerCase().endsWith('.json') ? jsonPath.slice(0, -5) : jsonPath;
  return { json: base === jsonPath ? `${base}.json` : jsonPath, csv: `${base}.csv`, md: `${base}.md` };
}

/** Writes a file whole or not at all (a temporary file renamed over it), so Ctrl-C never leaves half a file. */
export function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export function writeResultsJson(jsonPath: string, results: EvalResults): void {
  writeAtomic(outputPaths(jsonPath).json, JSON.stringify(results, null, 1) + '\n');
}

export function writeAllResults(jsonPath: string, results: EvalResults): { json: string; csv: string; md: string } {
  const paths = outputPaths(jsonPath);
  writeResultsJson(jsonPath, results);
  writeAtomic(paths.csv, resultsCsv(results));
  writeAtomic(paths.md, resultsMarkdown(results));
  return paths;
}
