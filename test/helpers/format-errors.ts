import assert from 'node:assert/strict';
import { FormatError } from '../../src/errors.js';

/**
 * Asserts that `fn` throws a one-line FormatError matching `pattern`, within `maxMs` (hostile input
 * must fail fast, never hang).
 */
export function expectFormatError(fn: () => unknown, pattern: RegExp, maxMs = 1000): FormatError {
  const started = performance.now();
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  const elapsed = performance.now() - started;
  assert.ok(caught instanceof FormatError, `expected a FormatError, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes('\n'), `error message is one line: ${caught.message}`);
  assert.ok(elapsed < maxMs, `took ${elapsed.toFixed(0)} ms (limit ${maxMs} ms)`);
  return caught;
}
