import fs from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors.js';

/** Largest single read: keeps each readSync call well under Node's 2 GiB per-call limit. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * A read-only file accessed with positional reads, so that a multi-GB checkpoint is never held in
 * one buffer: each tensor is read on its own, straight from its offset.
 */
export class RandomAccessFile {
  private fd: number | null;
  readonly size: number;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'r');
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Reads exactly `length` bytes at `offset` into `into` (or a new buffer); short files are a FormatError. */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array {
    if (this.fd === null) throw new Error(`${this.path}: file already closed`);
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new FormatError(`${this.path}: read of ${length} bytes at offset ${offset} runs past the end of the file (${this.size} bytes)`);
    }
    const out = into ?? new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const chunk = Math.min(MAX_READ_CHUNK, length - done);
      const n = fs.readSync(this.fd, out, done, chunk, offset + done);
      if (n === 0) throw new FormatError(`${this.path}: unexpected end of file at offset ${offset + done}`);
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** A parsed JSON object (the top level of config.json, tokenizer.json, an index file…). */
export type JsonObject = { [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A short JSON rendering of an untrusted value for an error message: never throws (JSON.stringify
 * overflows the stack on deeply nested input) and never longer than `max` characters.
 */
export function jsonSnippet(value: unknown, max = 100): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = Array.isArray(value) ? '[…]' : typeof value === 'object' && value !== null ? '{…}' : String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Error messages must be one line; library messages sometimes are not. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Reads and parses a JSON file. Every failure (missing file, unreadable, bad JSON) becomes a
 * one-line FormatError naming the file, so the CLI can print it as is.
 */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : String(code ?? err);
    throw new FormatError(`${file}: cannot read (${why})`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${oneLine((err as Error).message)})`, { cause: err });
  }
}

/** readJsonFile for files whose top level must be an object. */
export function readJsonObjectFile(file: string): JsonObject {
  const parsed = readJsonFile(file);
  if (!isJsonObject(parsed)) throw new FormatError(`${file}: expected a JSON object at the top level`);
  return parsed;
}

/**
 * Reads a whole UTF-8 text file of at most `maxBytes` bytes (for inputs read in one piece: data
 * sets, text to score). Every failure becomes `fail(message)` with a one-line message naming the
 * file: missing, not a regular file, over the bound, unreadable, not valid UTF-8.
 */
export function readBoundedText(file: string, maxBytes: number, fail: (message: string, cause?: unknown) => Error): string {
  let bytes: Buffer;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw fail(`${file}: not a regular file`);
    if (stat.size > maxBytes) throw fail(`${file}: file is ${stat.size} bytes, more than the ${maxBytes}-byte limit`);
    bytes = fs.readFileSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined && err instanceof Error) throw err;
    throw fail(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(err)})`, err);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  // A file may grow between fstat and read; the bound must hold for what was actually read.
  if (bytes.length > maxBytes) throw fail(`${file}: file is over the ${maxBytes}-byte limit`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw fail(`${file}: not valid UTF-8 text`, err);
  }
}

/** Writes a file whole or not at all (a temporary file beside it, renamed over it), so an interrupt never leaves half a file. */
export function writeFileAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
