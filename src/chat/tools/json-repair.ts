/**
 * Lenient JSON for tool calls. Small models write almost-JSON; rather than failing a whole agent
 * step on a stray comma, `repairJson` rewrites these defects, and only these, into strict JSON:
 *
 * - trailing commas before `}` / `]`;
 * - strings in single quotes (`'city'`) or Chinese double quotes (`“上海”`) → `"…"` (a `"` inside
 *   is escaped, `\'` unescaped);
 * - raw newlines / tabs inside strings → `\n` / `\t`;
 * - unquoted object keys (`{city: "上海"}`, letters/digits/_/$, any script) → `"city"`;
 * - Chinese full-width punctuation outside strings: `，` `：` `｛` `｝` `［` `］` and the ideographic
 *   space (inside strings it is text and is kept);
 * - Python literals `True` / `False` / `None` → `true` / `false` / `null`;
 * - missing closing braces/brackets at the very end (the model stopped early), closed in order.
 *
 * Anything else — an unterminated string, a bare word used as a value, text after the top-level
 * value — is left for JSON.parse to reject, or rejected here with a RepairError saying why.
 */
export class RepairError extends Error {}

const FULL_WIDTH: Readonly<Record<string, string>> = { '，': ',', '：': ':', '｛': '{', '｝': '}', '［': '[', '］': ']', '\u3000': ' ' };
const PYTHON_LITERALS: Readonly<Record<string, string>> = { True: 'true', False: 'false', None: 'null', true: 'true', false: 'false', null: 'null' };
const STRING_CLOSERS: Readonly<Record<string, string>> = { '"': '"', "'": "'", '“': '”' };
const IDENT_START = /[\p{L}_$]/u;
const IDENT_PART = /[\p{L}\p{N}_$]/u;
const NUMBER_PART = /[0-9eE+\-.]/;

/** Rewrites the defects listed above; throws RepairError for ones it cannot fix. */
export function repairJson(text: string): string {
  let out = '';
  const closers: string[] = [];
  let i = 0;
  while (i < text.length) {
    const raw = text[i] as string;
    const closeQuote = STRING_CLOSERS[raw];
    if (closeQuote !== undefined) {
      const end = readString(text, i + 1, closeQuote);
      out += `"${end.body}"`;
      i = end.next;
      continue;
    }
    const c = FULL_WIDTH[raw] ?? raw;
    if (c === '{' || c === '[') {
      closers.push(c === '{' ? '}' : ']');
      out += c;
    } else if (c === '}' || c === ']') {
      out = out.replace(/,\s*$/, '');
      closers.pop();
      out += c;
      if (closers.length === 0) {
        if (text.slice(i + 1).trim() !== '') throw new RepairError('unexpected text after the JSON value');
        return out;
      }
    } else if (/[0-9-]/.test(c)) {
      let j = i;
      while (j < text.length && NUMBER_PART.test(text[j] as string)) j++;
      out += text.slice(i, j);
      i = j;
      continue;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < text.length && IDENT_PART.test(text[j] as string)) j++;
      const word = text.slice(i, j);
      const literal = PYTHON_LITERALS[word];
      if (literal !== undefined) out += literal;
      else if (/^\s*[:：]/.test(text.slice(j))) out += JSON.stringify(word);
      else throw new RepairError(`unquoted word ${JSON.stringify(word)} is not a key or a literal`);
      i = j;
      continue;
    } else {
      out += c;
    }
    i++;
  }
  // The text ended inside objects/arrays: close them, innermost first.
  if (closers.length > 0) out = out.replace(/,\s*$/, '') + closers.reverse().join('');
  return out;
}

/** Reads a string body starting after its opening quote; returns it escaped for a `"…"` literal. */
function readString(text: string, start: number, close: string): { body: string; next: number } {
  let body = '';
  let j = start;
  while (j < text.length) {
    const ch = text[j] as string;
    if (ch === close) return { body, next: j + 1 };
    if (ch === '\\' && j + 1 < text.length) {
      const escaped = text[j + 1] as string;
      // JSON has no \' escape; a quote that needed escaping in '…' needs none in "…".
      body += escaped === "'" ? "'" : `\\${escaped}`;
      j += 2;
      continue;
    }
    if (ch === '"') body += '\\"';
    else if (ch === '\n') body += '\\n';
    else if (ch === '\r') body += '\\r';
    else if (ch === '\t') body += '\\t';
    else body += ch;
    j++;
  }
  throw new RepairError('unterminated string');
}

export type LenientParse = { ok: true; value: unknown; repaired: boolean } | { ok: false; reason: string };

/** JSON.parse, falling back to repairJson; never throws. */
export function parseLenientJson(text: string): LenientParse {
  try {
    return { ok: true, value: JSON.parse(text) as unknown, repaired: false };
  } catch (strictError) {
    let repaired: string;
    try {
      repaired = repairJson(text);
    } catch (e) {
      return { ok: false, reason: `invalid JSON (${(e as Error).message})` };
    }
    try {
      return { ok: true, value: JSON.parse(repaired) as unknown, repaired: true };
    } catch {
      return { ok: false, reason: `invalid JSON (${(strictError as Error).message})` };
    }
  }
}
