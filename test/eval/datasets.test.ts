import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DatasetError } from '../../src/errors.js';
import { parseCsv } from '../../src/eval/csv.js';
import { type Benchmark, type DatasetLoadOptions, loadCevalFile, loadCmmluFile, loadDataset, loadMmluFile } from '../../src/eval/datasets.js';
import type { McqItem } from '../../src/eval/types.js';
import { fixture, tempDir } from '../helpers/fixtures.js';

const dir = tempDir('xverse-eval-');
const evalFixture = (...parts: string[]): string => fixture('eval', ...parts);

function write(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Asserts that `fn` throws a one-line DatasetError whose message matches `pattern`; returns the message. */
function expectDatasetError(fn: () => unknown, pattern: RegExp): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DatasetError, `expected a DatasetError, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.match(caught.message, pattern);
  assert.ok(!/[\r\n]/.test(caught.message), `error message is one line: ${caught.message}`);
  return caught.message;
}

const rows = (text: string): Array<[number, string[]]> => parseCsv(text, 'x.csv').map((r) => [r.line, r.fields]);

/** Escapes `value` for a CSV field the way a writer that quotes only when needed would. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

// ---------------------------------------------------------------------------------------------
// CSV parser

test('csv: quoted fields keep commas, doubled quotes and empty values', () => {
  assert.deepEqual(rows('a,"b,c","say ""hi""",""\n,x,\n'), [
    [1, ['a', 'b,c', 'say "hi"', '']],
    [2, ['', 'x', '']],
  ]);
});

test('csv: embedded newlines keep the line numbers of the following rows right', () => {
  assert.deepEqual(rows('h1,h2\n"one\ntwo\r\nthree",x\nnext,row\n"a\n",b\nlast,1\n'), [
    [1, ['h1', 'h2']],
    [2, ['one\ntwo\r\nthree', 'x']],
    [5, ['next', 'row']],
    [6, ['a\n', 'b']],
    [8, ['last', '1']],
  ]);
});

test('csv: CRLF rows, a BOM, a missing final newline and blank trailing lines', () => {
  assert.deepEqual(rows('\uFEFFa,b\r\n"c",d\r\ne,f'), [
    [1, ['a', 'b']],
    [2, ['c', 'd']],
    [3, ['e', 'f']],
  ]);
  assert.deepEqual(rows('a,b\n\n\r\n\n'), [[1, ['a', 'b']]]);
  assert.deepEqual(rows('a\n\nb\n'), [
    [1, ['a']],
    [3, ['b']],
  ]);
  assert.deepEqual(rows(''), []);
  assert.deepEqual(rows('\uFEFF'), []);
  // Whitespace, a lone CR and a quote inside an unquoted field are text, kept as written.
  assert.deepEqual(rows(' a ,b\rc,x"y\n'), [[1, [' a ', 'b\rc', 'x"y']]]);
});

test('csv: a quote that is never closed names the file and the line where the field started', () => {
  expectDatasetError(() => parseCsv('a,b\nc,"d\ne\nf,g\n', 'data/x.csv'), /^data\/x\.csv:2: quoted field is never closed/);
  expectDatasetError(() => parseCsv('a,b\n"c""', 'x.csv'), /^x\.csv:2: quoted field is never closed/);
});

test('csv: text after a closing quote is rejected', () => {
  expectDatasetError(() => parseCsv('q,a\n"abc"x,1\n', 'x.csv'), /^x\.csv:2: unexpected "x" after a closing quote/);
  expectDatasetError(() => parseCsv('"multi\nline" ,1\n', 'x.csv'), /^x\.csv:2: unexpected " " after a closing quote/);
  expectDatasetError(() => parseCsv('"abc"\r', 'x.csv'), /^x\.csv:1: unexpected "\\r" after a closing quote/);
});

// ---------------------------------------------------------------------------------------------
// Every fixture file

const FIXTURE_DIRS: Array<[Benchmark, string]> = [
  ['mmlu', 'mmlu/dev'],
  ['mmlu', 'mmlu/test'],
  ['ceval', 'ceval/dev'],
  ['cmmlu', 'cmmlu/dev'],
  ['cmmlu', 'cmmlu/test'],
];

test('every fixture file loads, with well-formed items', () => {
  const filesPerDir: Record<string, number> = {};
  for (const [benchmark, sub] of FIXTURE_DIRS) {
    const files = fs.readdirSync(evalFixture(sub)).filter((f) => f.endsWith('.csv'));
    filesPerDir[sub] = files.length;
    for (const name of files) {
      const file = evalFixture(sub, name);
      const items = loadDataset(benchmark, file);
      assert.ok(items.length > 0, `${file} has items`);
      let previousLine = 1;
      for (const item of items) {
        assert.ok(item.question.length > 0);
        assert.equal(item.choices.length, 4);
        assert.ok(Number.isInteger(item.answer) && item.answer >= 0 && item.answer <= 3);
        assert.equal(item.source.file, file);
        assert.ok(item.source.line > previousLine, `${file}: lines increase`);
        previousLine = item.source.line;
      }
      if (sub.endsWith('/dev')) assert.equal(items.length, 5, `${file} has 5 dev rows`);
    }
  }
  assert.deepEqual(filesPerDir, { 'mmlu/dev': 57, 'mmlu/test': 5, 'ceval/dev': 52, 'cmmlu/dev': 67, 'cmmlu/test': 5 });
});

test('fixture row counts match the csv module', () => {
  // Counted with Python: len(list(csv.reader(open(p, encoding='utf-8-sig')))) - 1
  const counts: Array<[Benchmark, string, number]> = [
    ['mmlu', 'mmlu/test/abstract_algebra_test.csv', 100],
    ['mmlu', 'mmlu/test/anatomy_test.csv', 135],
    ['mmlu', 'mmlu/test/astronomy_test.csv', 152],
    ['mmlu', 'mmlu/test/high_school_geography_test.csv', 198],
    ['cmmlu', 'cmmlu/test/anatomy.csv', 148],
    ['cmmlu', 'cmmlu/test/chinese_history.csv', 323],
    ['cmmlu', 'cmmlu/test/computer_science.csv', 204],
  ];
  for (const [benchmark, file, count] of counts) assert.equal(loadDataset(benchmark, evalFixture(file)).length, count, file);
});

test('MMLU items are the exact strings of the file (numbers stay strings, quotes unescaped)', () => {
  const file = evalFixture('mmlu/dev/abstract_algebra_dev.csv');
  const [first, second] = loadMmluFile(file);
  assert.deepEqual(first, {
    question: 'Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.',
    choices: ['0', '1', '2', '3'],
    answer: 1,
    source: { file, line: 2 },
  });
  assert.deepEqual(second!.choices, ['True, True', 'False, False', 'True, False', 'False, True']);
  const anatomy = loadMmluFile(evalFixture('mmlu/test/anatomy_test.csv'));
  assert.equal(anatomy[1]!.question, 'A "dished face" profile is often associated with');
  // A question with CRLF line breaks inside its quotes keeps them byte for byte.
  const cm = loadMmluFile(evalFixture('mmlu/dev/college_mathematics_dev.csv'));
  assert.ok(cm.some((item) => item.question.includes('?\r\nI. All of the entries of A^2 are nonnegative.\r\n')));
});

test('CMMLU items come from the named columns, not the index column', () => {
  const file = evalFixture('cmmlu/test/anatomy.csv');
  const items = loadCmmluFile(file);
  assert.deepEqual(items[0], { question: '女性生殖腺是', choices: ['卵巢', '前庭大腺', '前庭球', '乳腺'], answer: 0, source: { file, line: 2 } });
  assert.equal(items[2]!.answer, 3);
});

test('C-Eval: a row with a multi-line explanation parses and the next row starts on the right line', () => {
  const file = evalFixture('ceval/dev/accountant_dev.csv');
  const items = loadCevalFile(file);
  assert.deepEqual(
    items.map((item) => item.source.line),
    [2, 3, 6, 8, 9],
  );
  assert.equal(items[1]!.question, '债务人转让全部合同义务的，下列说法不正确的是____。');
  assert.equal(items[1]!.choices[0], '须债权人同意方可进行');
  assert.equal(items[1]!.answer, 2);
  assert.match(items[2]!.question, /^某公司2012年以150万元的价格进口了1台仪器/);
});

// ---------------------------------------------------------------------------------------------
// Layouts

test('the original hendrycks MMLU layout (no header, letter answers) loads the same items', () => {
  const reformatted = loadMmluFile(evalFixture('mmlu/dev/abstract_algebra_dev.csv'));
  const original = reformatted
    .map((item, k) => [item.question, ...item.choices, k === 0 ? ' B ' : 'ABCD'[item.answer]!].map(csvField).join(','))
    .join('\r\n');
  const file = write('abstract_algebra_dev.csv', original);
  const loaded = loadMmluFile(file);
  const strip = (items: McqItem[]) => items.map(({ question, choices, answer }) => ({ question, choices, answer }));
  assert.deepEqual(strip(loaded), strip(reformatted));
  assert.deepEqual(
    loaded.map((item) => item.source),
    // Embedded line breaks are rewritten verbatim, so only the missing header shifts the lines.
    reformatted.map((item) => ({ file, line: item.source.line - 1 })),
  );
  // In the original layout a first row that is not the exact reformatted header is a question.
  expectDatasetError(() => loadMmluFile(write('other-header.csv', 'question,A,B,C,D,answer\nq,a,b,c,d,A\n')), /other-header\.csv:1: answer "answer" is not one of A, B, C, D$/);
});

test('C-Eval files without the explanation column (the official val/test splits) load', () => {
  const file = write('val.csv', 'id,question,A,B,C,D,answer\n0,"q, 1",a,b,c,d,D\n1,q2, a , b ,c,d,A \n');
  assert.deepEqual(loadCevalFile(file), [
    { question: 'q, 1', choices: ['a', 'b', 'c', 'd'], answer: 3, source: { file, line: 2 } },
    { question: 'q2', choices: [' a ', ' b ', 'c', 'd'], answer: 0, source: { file, line: 3 } },
  ]);
  // Columns are found by name, whatever their order.
  const shuffled = write('shuffled.csv', 'answer,D,C,B,A,question,id\nB,d,c,b,a,q,0\n');
  assert.deepEqual(loadCevalFile(shuffled)[0]!.choices, ['a', 'b', 'c', 'd']);
  assert.equal(loadCevalFile(shuffled)[0]!.answer, 1);
});

test("C-Eval's test split (no answers) is refused with a pointer to the val split", () => {
  const file = write('test-split.csv', 'id,question,A,B,C,D,answer\n0,q,a,b,c,d,\n');
  expectDatasetError(() => loadCevalFile(file), /test-split\.csv:2: answer is empty: the answers of C-Eval's test split are not public, use the val split$/);
});

test('a header of the wrong benchmark is refused, naming the columns expected, even under skip', () => {
  const skip: DatasetLoadOptions = { onBadRow: 'skip', warn: () => assert.fail('not a row problem') };
  const cmmlu = evalFixture('cmmlu/dev/agronomy.csv');
  const msg = expectDatasetError(() => loadCevalFile(cmmlu, skip), /agronomy\.csv:1: expected a header with columns id, question, A, B, C, D, answer\[, explanation\], found ", Question, A, B, C, D, Answer"$/);
  assert.ok(msg.startsWith(cmmlu));
  expectDatasetError(() => loadCmmluFile(evalFixture('ceval/dev/law_dev.csv'), skip), /law_dev\.csv:1: expected a header with columns \(unnamed index\), Question, A, B, C, D, Answer/);
  expectDatasetError(() => loadCmmluFile(write('dup.csv', ',Question,A,A,B,C,D,Answer\n')), /dup\.csv:1: expected a header/);
});

// ---------------------------------------------------------------------------------------------
// Corrupted copies of real files

/** Copies a fixture to the temp folder, replacing `from` with `to` on 1-based line `line`. */
function corrupt(source: string, name: string, line: number, from: string | RegExp, to: string): string {
  const lines = fs.readFileSync(evalFixture(source), 'utf8').split('\n');
  const before = lines[line - 1]!;
  lines[line - 1] = before.replace(from, to);
  assert.notEqual(lines[line - 1], before, 'the corruption applies');
  return write(name, lines.join('\n'));
}

const ANATOMY = 'mmlu/test/anatomy_test.csv';
const ANATOMY_ROWS = 135;

test('a row with a missing column is rejected with its file and line; skip loads the rest and warns once', () => {
  // Row 3 of the data is line 4: "Which of the following best describes …,Bladder,Kidney,Ureter,Urethra,0".
  const file = corrupt(ANATOMY, 'anatomy_test.csv', 4, ',Urethra,', ',');
  const message = expectDatasetError(() => loadMmluFile(file), /:4: expected 6 columns \(question, 4 choices, answer\), found 5$/);
  assert.equal(message, `${file}:4: expected 6 columns (question, 4 choices, answer), found 5`);

  const warnings: string[] = [];
  const items = loadMmluFile(file, { onBadRow: 'skip', warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, [message]);
  assert.equal(items.length, ANATOMY_ROWS - 1);
  assert.ok(!items.some((item) => item.source.line === 4));
  assert.equal(items[2]!.source.line, 5);
});

test('an answer out of range is rejected; the default warning goes to stderr', (t) => {
  const file = corrupt(ANATOMY, 'anatomy-answer.csv', 4, /,0$/, ',7');
  const message = expectDatasetError(() => loadMmluFile(file), /anatomy-answer\.csv:4: answer "7" is not one of 0, 1, 2, 3$/);
  assert.ok(message.startsWith(`${file}:4:`));

  const written: string[] = [];
  t.mock.method(process.stderr, 'write', (chunk: string) => {
    written.push(chunk);
    return true;
  });
  const items = loadDataset('mmlu', file, { onBadRow: 'skip' });
  t.mock.restoreAll();
  assert.deepEqual(written, [`xverse: warning: ${message}\n`]);
  assert.equal(items.length, ANATOMY_ROWS - 1);
});

test('CMMLU: a bad answer letter and an empty question are bad rows', () => {
  const letter = corrupt('cmmlu/test/anatomy.csv', 'cmmlu-letter.csv', 3, /,C$/, ',E');
  expectDatasetError(() => loadCmmluFile(letter), /cmmlu-letter\.csv:3: answer "E" is not one of A, B, C, D$/);
  const empty = corrupt('cmmlu/test/anatomy.csv', 'cmmlu-empty.csv', 10, /^(\d+),[^,]+,/, '$1,,');
  expectDatasetError(() => loadCmmluFile(empty), /cmmlu-empty\.csv:10: empty question$/);
  const warnings: string[] = [];
  assert.equal(loadCmmluFile(empty, { onBadRow: 'skip', warn: (m) => warnings.push(m) }).length, 147);
  assert.equal(warnings.length, 1);
  const extra = corrupt('cmmlu/test/anatomy.csv', 'cmmlu-extra.csv', 5, /$/, ',extra');
  expectDatasetError(() => loadCmmluFile(extra), /cmmlu-extra\.csv:5: expected 7 columns \(\(unnamed\), Question, A, B, C, D, Answer\), found 8$/);
});

test('an unterminated quote in a real file is reported at the line where it starts, even under skip', () => {
  const file = corrupt('cmmlu/test/anatomy.csv', 'cmmlu-quote.csv', 10, /^/, '"');
  const skip: DatasetLoadOptions = { onBadRow: 'skip', warn: () => assert.fail('a broken file is not skippable') };
  expectDatasetError(() => loadCmmluFile(file, skip), /cmmlu-quote\.csv:10: quoted field is never closed/);
});

// ---------------------------------------------------------------------------------------------
// Files

test('unreadable, empty, non-UTF-8 and oversized files are DatasetErrors naming the file', () => {
  const missing = path.join(dir, 'missing.csv');
  expectDatasetError(() => loadMmluFile(missing), /missing\.csv: no such file$/);
  expectDatasetError(() => loadCevalFile(dir), /: (not a regular file|EISDIR)$/);
  expectDatasetError(() => loadMmluFile(write('empty.csv', '\n\n')), /empty\.csv: file is empty$/);
  expectDatasetError(() => loadMmluFile(write('latin1.csv', Buffer.from('caf\xe9,a,b,c,d,A\n', 'latin1'))), /not valid UTF-8/);
  const big = evalFixture('mmlu/dev/abstract_algebra_dev.csv');
  expectDatasetError(() => loadMmluFile(big, { maxBytes: 100 }), /abstract_algebra_dev\.csv: file is \d+ bytes, more than the 100-byte limit/);
  assert.equal(loadMmluFile(big, { maxBytes: fs.statSync(big).size }).length, 5);
});
