import OpenAI from 'openai';
import { AutoModelForCausalLM, AutoTokenizer, type XverseForCausalLM } from '../../src/index.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { createServer, type ServerOptions, type XverseServer } from '../../src/server/app.js';
import type { RequestLogEntry } from '../../src/server/request-log.js';

/** The embedded stories260K on the TypeScript backend: tiny and deterministic; its chat is nonsense, the protocol is what is tested. */
export async function loadTinyModel(): Promise<{ model: XverseForCausalLM; tokenizer: Tokenizer }> {
  const model = await AutoModelForCausalLM.fromPretrained(undefined, { backend: 'typescript' });
  const tokenizer = await AutoTokenizer.fromPretrained();
  return { model, tokenizer };
}

export interface TestServer {
  server: XverseServer;
  url: string;
  client: OpenAI;
  logs: RequestLogEntry[];
  close(): Promise<void>;
}

/** An in-process server on 127.0.0.1, port 0, with the debug endpoints on and log lines collected instead of printed. */
export async function startServer(options: Partial<ServerOptions> & Pick<ServerOptions, 'model' | 'tokenizer'>): Promise<TestServer> {
  const logs: RequestLogEntry[] = [];
  const server = await createServer({ debug: true, logToStderr: false, onLog: (e) => logs.push(e), ...options });
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKey ?? 'unused', maxRetries: 0, timeout: 20_000 });
  return { server, url, client, logs, close: () => server.close(1000) };
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

export function postJson<T>(url: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  return getJson<T>(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
