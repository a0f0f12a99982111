import { GenerationError } from '../errors.js';

/**
 * Watches streamed text for stop strings. `push` returns only text that can no longer turn out to
 * be part of a stop string: a tail that is a proper prefix of some stop string is held back until
 * later text rules it in (stop) or out (release), so a stop string never leaks even partially, even
 * when it spans several tokens. Once a stop string completes, the text ends right before it.
 */
export class StopStringFilter {
  private readonly stops: readonly string[];
  private buffer = '';
  private emitted = 0;
  private done = false;

  constructor(stops: readonly string[] = []) {
    for (const s of stops) {
      if (typeof s !== 'string' || s.length === 0) {
        throw new GenerationError(`stop strings must be non-empty strings, got ${JSON.stringify(s)}`);
      }
    }
    this.stops = [...stops];
  }

  /** True once a stop string has been seen; later pushes are ignored. */
  get stopped(): boolean {
    return this.done;
  }

  /** All text released so far. */
  get text(): string {
    return this.buffer.slice(0, this.emitted);
  }

  /** Appends `piece`; returns the newly releasable text. */
  push(piece: string): string {
    if (this.done || piece.length === 0) return '';
    this.buffer += piece;
    const start = this.emitted;
    // A stop string cannot begin inside released text: that text was released only because no
    // stop string could start there, so searching the unreleased part is enough.
    let end = -1;
    for (const s of this.stops) {
      const at = this.buffer.indexOf(s, start);
      if (at !== -1 && (end === -1 || at < end)) end = at;
    }
    if (end !== -1) {
      this.done = true;
      this.buffer = this.buffer.slice(0, end);
    } else {
      end = this.buffer.length - this.heldBack(start);
    }
    this.emitted = end;
    return this.buffer.slice(start, end);
  }

  /** Releases the held-back tail (the text ended without completing a stop string). */
  flush(): string {
    const tail = this.buffer.slice(this.emitted);
    this.emitted = this.buffer.length;
    return tail;
  }

  /** Length of the longest tail (past `start`) that is a proper prefix of a stop string. */
  private heldBack(start: number): number {
    const room = this.buffer.length - start;
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, room); n > hold; n--) {
        if (this.buffer.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    return hold;
  }
}
