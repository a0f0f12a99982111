import fs from 'node:fs';

import { FormatError } from '../errors.js';

/** A parsed JSON object (the top level of tokenizer.json / tokenizer_config.json). */
export type JsonObject = { [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads and parses a JSON file whose top level must be an object. Every failure (missing file,
 * unreadable, bad JSON, wrong top-level type) becomes a one-line FormatError naming the file, so the
 * CLI can print it as is.
 */
export function readJsonObjectFile(file: string): JsonObject {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : String(code ?? err);
    throw new FormatError(`${file}: cannot read (${why})`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${oneLine((err as Error).message)})`, { cause: err });
  }
  if (!isJsonObject(parsed)) throw new FormatError(`${file}: expected a JSON object at the top level`);
  return parsed;
}

/** Error messages must be one line; library messages sometimes are not. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
