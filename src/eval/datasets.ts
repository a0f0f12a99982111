import { DatasetError } from '../errors.js';
import { readBoundedText } from '../formats/file-io.js';
import { type CsvRow, parseCsv } from './csv.js';
import { type BadRowPolicy, CHOICE_LETTERS, type McqItem } from './types.js';

export type Benchmark = 'mmlu' | 'ceval' | 'cmmlu';

export interface DatasetLoadOptions {
  /** What to do with a row that cannot be used: throw (default) or warn and skip it. */
  onBadRow?: BadRowPolicy;
  /** Receives each skipped row's message under 'skip' (default: `xverse: warning: …` on stderr). */
  warn?: (message: string) => void;
  /** Largest file accepted, in bytes (default MAX_DATASET_BYTES). */
  maxBytes?: number;
}

/** Benchmark CSVs are a few MiB at most; anything far larger is not one, and would be read whole. */
export const MAX_DATASET_BYTES = 256 * 1024 * 1024;

/** The reformatted MMLU layout (e.g. HF `cais/mmlu` exports) starts with exactly this header. */
const MMLU_REFORMATTED_HEADER = ['question', 'choice0', 'choice1', 'choice2', 'choice3', 'answer'];
const MMLU_COLUMNS = 'expected 6 columns (question, 4 choices, answer)';

/** A row's fault, or the item it holds. */
type RowResult = McqItem | { problem: string };

/**
 * Loads an MMLU subject file in either layout: the original hendrycks/test one (no header,
 * `question,A,B,C,D,answer` with a letter answer) or the reformatted one (header
 * `question,choice0,choice1,choice2,choice3,answer`, answer 0–3).
 */
export function loadMmluFile(path: string, options: DatasetLoadOptions = {}): McqItem[] {
  const rows = readCsvFile(path, options.maxBytes);
  const reformatted = sameFields(rows[0]!.fields, MMLU_REFORMATTED_HEADER);
  const parseAnswer = reformatted ? parseIndexAnswer : parseLetterAnswer;
  return collectItems(path, reformatted ? rows.slice(1) : rows, options, (row) => {
    if (row.fields.length !== 6) return { problem: `${MMLU_COLUMNS}, found ${row.fields.length}` };
    const [question, a, b, c, d, answer] = row.fields as [string, string, string, string, string, string];
    return makeItem(path, row, question, [a, b, c, d], parseAnswer(answer));
  });
}

/**
 * Loads a C-Eval subject file (`id,question,A,B,C,D,answer[,explanation]`), finding columns by
 * header name. Rows of the public test split have no answer and are rejected.
 */
export function loadCevalFile(path: string, options: DatasetLoadOptions = {}): McqItem[] {
  return loadWithHeader(path, options, {
    columns: { question: 'question', choices: ['A', 'B', 'C', 'D'], answer: 'answer' },
    expected: 'id, question, A, B, C, D, answer[, explanation]',
    emptyAnswer: "answer is empty: the answers of C-Eval's test split are not public, use the val split",
  });
}

/** Loads a CMMLU subject file (`,Question,A,B,C,D,Answer`, led by an unnamed index column). */
export function loadCmmluFile(path: string, options: DatasetLoadOptions = {}): McqItem[] {
  return loadWithHeader(path, options, {
    columns: { question: 'Question', choices: ['A', 'B', 'C', 'D'], answer: 'Answer' },
    expected: '(unnamed index), Question, A, B, C, D, Answer',
    emptyAnswer: 'answer is empty',
  });
}

/** Loads one subject file of `benchmark`. */
export function loadDataset(benchmark: Benchmark, path: string, options: DatasetLoadOptions = {}): McqItem[] {
  switch (benchmark) {
    case 'mmlu':
      return loadMmluFile(path, options);
    case 'ceval':
      return loadCevalFile(path, options);
    case 'cmmlu':
      return loadCmmluFile(path, options);
  }
}

interface HeaderFormat {
  columns: { question: string; choices: [string, string, string, string]; answer: string };
  /** The header as documented, for the error message when a file's header lacks a column. */
  expected: string;
  emptyAnswer: string;
}

function loadWithHeader(path: string, options: DatasetLoadOptions, format: HeaderFormat): McqItem[] {
  const rows = readCsvFile(path, options.maxBytes);
  const header = rows[0]!.fields;
  const { question, choices, answer } = format.columns;
  const index = (name: string): number => {
    const at = header.indexOf(name);
    if (at < 0 || header.indexOf(name, at + 1) >= 0) {
      const found = header.join(', ');
      throw new DatasetError(
        `${path}:1: expected a header with columns ${format.expected}, found ${JSON.stringify(found.length > 200 ? `${found.slice(0, 200)}…` : found)}`,
      );
    }
    return at;
  };
  const qCol = index(question);
  const choiceCols = choices.map(index);
  const answerCol = index(answer);
  const columnList = header.map((h) => (h === '' ? '(unnamed)' : h)).join(', ');
  return collectItems(path, rows.slice(1), options, (row) => {
    const f = row.fields;
    if (f.length !== header.length) return { problem: `expected ${header.length} columns (${columnList}), found ${f.length}` };
    const rawAnswer = f[answerCol]!;
    if (rawAnswer.trim() === '') return { problem: format.emptyAnswer };
    const picked = choiceCols.map((c) => f[c]!) as [string, string, string, string];
    return makeItem(path, row, f[qCol]!, picked, parseLetterAnswer(rawAnswer));
  });
}

/** Reads and parses a CSV file, bounding its size; the result has at least one row. */
function readCsvFile(path: string, maxBytes = MAX_DATASET_BYTES): CsvRow[] {
  const text = readBoundedText(path, maxBytes, (message, cause) => new DatasetError(message, { cause }));
  const rows = parseCsv(text, path);
  if (rows.length === 0) throw new DatasetError(`${path}: file is empty`);
  return rows;
}

/** Turns rows into items, applying the bad-row policy to rows whose converter reports a problem. */
function collectItems(path: string, rows: CsvRow[], options: DatasetLoadOptions, convert: (row: CsvRow) => RowResult): McqItem[] {
  const warn = options.warn ?? ((message: string) => process.stderr.write(`xverse: warning: ${message}\n`));
  const items: McqItem[] = [];
  for (const row of rows) {
    const result = convert(row);
    if (!('problem' in result)) {
      items.push(result);
      continue;
    }
    const error = new DatasetError(`${path}:${row.line}: ${result.problem}`);
    if ((options.onBadRow ?? 'error') === 'error') throw error;
    warn(error.message); // the error's one-line form, so a warning reads exactly like the error would
  }
  return items;
}

function makeItem(
  file: string,
  row: CsvRow,
  question: string,
  choices: [string, string, string, string],
  answer: number | { problem: string },
): RowResult {
  if (question.trim() === '') return { problem: 'empty question' };
  if (typeof answer !== 'number') return answer;
  return { question, choices, answer, source: { file, line: row.line } };
}

function parseLetterAnswer(raw: string): number | { problem: string } {
  const at = (CHOICE_LETTERS as readonly string[]).indexOf(raw.trim());
  return at >= 0 ? at : { problem: `answer ${quote(raw)} is not one of ${CHOICE_LETTERS.join(', ')}` };
}

function parseIndexAnswer(raw: string): number | { problem: string } {
  const trimmed = raw.trim();
  return /^[0-3]$/.test(trimmed) ? Number(trimmed) : { problem: `answer ${quote(raw)} is not one of 0, 1, 2, 3` };
}

/** Quotes an untrusted value for a message, cut short so one bad cell cannot flood the terminal. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function sameFields(fields: string[], expected: string[]): boolean {
  return fields.length === expected.length && fields.every((f, k) => f === expected[k]);
}
