/** One line per API request, like XVERSE's chat_demo prints per chat turn (time, client, outcome). */
export interface RequestLogEntry {
  /** ISO time the request finished. */
  time: string;
  /** The client's address. */
  client: string;
  method: string;
  url: string;
  /** HTTP status sent (for a stream: 200, even when it was cut short). */
  status: number;
  promptTokens: number;
  generatedTokens: number;
  /** Generated tokens per second of the generation's wall time (0 when none). */
  tokensPerSecond: number;
  /** finish reason (`stop`, `length`, `tool_calls`), `abort` (client gone or shutdown), or `error: …`. */
  outcome: string;
  /** Request duration. */
  ms: number;
}

export function formatLogEntry(e: RequestLogEntry): string {
  return `${e.time} ${e.client} ${e.method} ${e.url} ${e.status} prompt=${e.promptTokens} generated=${e.generatedTokens} ` +
    `${e.tokensPerSecond.toFixed(1)} tok/s ${e.ms.toFixed(0)} ms ${e.outcome}`;
}
