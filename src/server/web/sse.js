// Streams an OpenAI-style SSE response (`data: {...}` events ending with `data: [DONE]`) out of a
// fetch Response. EventSource cannot POST a body, so the stream is read by hand from
// `response.body` — which also lets the caller cancel it with an AbortController.
import { authHeaders } from './auth.js';

/**
 * POSTs `body` as JSON and yields each event's parsed JSON until `[DONE]` or the end of the stream.
 * Throws an Error carrying the server's message when the request is refused (non-2xx).
 * @param {string} url @param {object} body @param {AbortSignal} signal
 * @returns {AsyncGenerator<any>}
 */
export async function* postSse(url, body, signal) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authHeaders() },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || response.body === null) throw new Error(await errorMessage(response));
  yield* readSse(response.body);
}

/** @param {ReadableStream<Uint8Array>} stream @returns {AsyncGenerator<any>} */
export async function* readSse(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // Events are separated by a blank line; the last piece may be incomplete, keep it.
      const events = buffer.split(/\r?\n\r?\n/);
      buffer = events.pop() ?? '';
      for (const event of events) {
        const data = eventData(event);
        if (data === null) continue;
        if (data === '[DONE]') return;
        const parsed = JSON.parse(data);
        // An error sent mid-stream (the status line is already out) arrives as an event.
        if (parsed && parsed.error) throw new Error(parsed.error.message ?? String(parsed.error));
        yield parsed;
      }
    }
  } finally {
    // Releases the connection when the consumer stops early (Stop, or an error).
    reader.cancel().catch(() => {});
  }
}

/** Joins an event's `data:` lines (comments and other fields are ignored); null when it has none. */
function eventData(event) {
  const data = event
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
  return data.length === 0 ? null : data.join('\n');
}

/** @param {Response} response */
async function errorMessage(response) {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text);
    if (parsed?.error?.message) return String(parsed.error.message);
    if (parsed?.message) return String(parsed.message);
  } catch {
    // not JSON: fall through to the raw text
  }
  return `${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`;
}
