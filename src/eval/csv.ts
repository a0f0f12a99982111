import { DatasetError } from '../errors.js';

/** One CSV record and the 1-based line where it starts (a quoted field may span several lines). */
export interface CsvRow {
  fields: string[];
  line: number;
}

/**
 * Parses RFC 4180 CSV text. Field values are returned exactly as written (quoted ones unquoted, `""`
 * turned into `"`, embedded CR/LF kept), because evaluation prompts must be byte-exact.
 *
 * - Rows end at LF or CRLF outside quotes; a lone CR is ordinary text.
 * - A leading UTF-8 BOM is dropped; the last row needs no final newline.
 * - Blank lines are skipped (as pandas does), so trailing empty lines produce no rows.
 * - A `"` inside an unquoted field is literal text (as Python's csv module and pandas read it).
 *
 * Throws DatasetError naming `file:line` for a quote that is never closed (the line where the
 * quoted field started) and for text after a closing quote other than `,` or the end of the row.
 */
export function parseCsv(text: string, file: string): CsvRow[] {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const rows: CsvRow[] = [];

  const atRowEnd = (k: number): boolean => k >= n || text[k] === '\n' || (text[k] === '\r' && text[k + 1] === '\n');

  while (i < n) {
    // A blank line holds no record at all (not even one empty field).
    if (atRowEnd(i)) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      if (text[i] === '"') {
        const startLine = line;
        let value = '';
        i++;
        for (;;) {
          const close = text.indexOf('"', i);
          if (close < 0) throw new DatasetError(`${file}:${startLine}: quoted field is never closed (missing '"')`);
          line += countNewlines(text, i, close);
          value += text.slice(i, close);
          if (text[close + 1] === '"') {
            value += '"';
            i = close + 2;
          } else {
            i = close + 1;
            break;
          }
        }
        if (!(atRowEnd(i) || text[i] === ',')) {
          throw new DatasetError(
            `${file}:${line}: unexpected ${JSON.stringify(text[i])} after a closing quote (a quote inside a quoted field must be doubled)`,
          );
        }
        fields.push(value);
      } else {
        let end = i;
        while (end < n && text[end] !== ',' && !atRowEnd(end)) end++;
        fields.push(text.slice(i, end));
        i = end;
      }
      if (text[i] === ',') {
        i++;
        continue; // a comma always starts another field, even an empty one at the end of the row
      }
      if (i < n) {
        i += text[i] === '\r' ? 2 : 1;
        line++;
      }
      break;
    }
    rows.push({ fields, line: rowLine });
  }
  return rows;
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = text.indexOf('\n', from); k >= 0 && k < to; k = text.indexOf('\n', k + 1)) count++;
  return count;
}
