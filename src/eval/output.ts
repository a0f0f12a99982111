import { writeFileAtomic } from '../formats/file-io.js';
import { resultsCsv, resultsMarkdown, type EvalResults } from './results.js';

/** The three files a run writes: FILE.json (everything, also what --resume reads), .csv and .md. */
export function outputPaths(jsonPath: string): { json: string; csv: string; md: string } {
  const base = jsonPath.toLowerCase().endsWith('.json') ? jsonPath.slice(0, -5) : jsonPath;
  return { json: base === jsonPath ? `${base}.json` : jsonPath, csv: `${base}.csv`, md: `${base}.md` };
}

export function writeResultsJson(jsonPath: string, results: EvalResults): void {
  writeFileAtomic(outputPaths(jsonPath).json, JSON.stringify(results, null, 1) + '\n');
}

export function writeAllResults(jsonPath: string, results: EvalResults): { json: string; csv: string; md: string } {
  const paths = outputPaths(jsonPath);
  writeResultsJson(jsonPath, results);
  writeFileAtomic(paths.csv, resultsCsv(results));
  writeFileAtomic(paths.md, resultsMarkdown(results));
  return paths;
}
