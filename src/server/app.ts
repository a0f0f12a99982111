import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ApiError, sendApiError } from './api-error.js';
import { registerChatRoute } from './chat-route.js';
import { registerCompletionsRoute } from './completions-route.js';
import type { ServerContext } from './context.js';
import { registerDebugRoutes } from './debug-routes.js';
import { Engine, type EngineStats, type ServedModel } from './engine.js';
import { registerModelRoutes } from './models-route.js';
import { formatLogEntry, type RequestLogEntry } from './request-log.js';
import { validationError, type SchemaError } from './validation-error.js';
import { registerWebUi } from './web-ui.js';

export interface ServerOptions {
  /** The loaded model (an XverseForCausalLM from AutoModelForCausalLM.fromPretrained). */
  model: ServedModel;
  tokenizer: Tokenizer;
  /** The id clients name in `model` (default: the model folder's or file's base name). */
  modelId?: string;
  /** Web UI title (default: the model id). */
  title?: string;
  /** Generations running at once, interleaved token by token (default 4; see engine.ts). */
  concurrency?: number;
  /** Requests that may wait for a slot; beyond that the answer is 503 (default 64). */
  maxQueued?: number;
  /** Largest accepted request body in bytes (default 4 MiB); larger is a 413. */
  bodyLimit?: number;
  /** When set, `/v1/*` and `/debug/*` need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Enables `/debug/last-prompt` and `/debug/stats`. */
  debug?: boolean;
  /** Serve the web UI at `/` (default true). */
  webUi?: boolean;
  /** Receives each request's log entry (tests, custom logging). */
  onLog?: (entry: RequestLogEntry) => void;
  /** Write each log line to stderr (default true). */
  logToStderr?: boolean;
}

export interface XverseServer {
  readonly app: FastifyInstance;
  readonly modelId: string;
  /** Starts listening; resolves with the base URL (`http://host:port`). Port 0 picks a free port. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  /**
   * Graceful shutdown: stops accepting connections, lets generations in flight finish for up to
   * `graceMs` (default 5000), then aborts the rest, and resolves once every connection is closed.
   */
  close(graceMs?: number): Promise<void>;
  stats(): EngineStats;
}

export function defaultModelId(modelPath: string): string {
  return path.basename(modelPath.replace(/[\\/]+$/, ''));
}

/** Constant-time comparison of the Authorization header with the expected one. */
function authorized(header: string | undefined, apiKey: string): boolean {
  const expected = Buffer.from(`Bearer ${apiKey}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Builds the API + web UI server around a loaded model (does not listen yet). */
export async function createServer(options: ServerOptions): Promise<XverseServer> {
  const modelId = options.modelId ?? defaultModelId(options.model.path);
  const shutdown = new AbortController();
  // Every generation in flight listens to it: one listener per request, not a leak.
  setMaxListeners(0, shutdown.signal);
  const engine = new Engine(options.model, options.tokenizer, options.concurrency ?? 4, options.maxQueued ?? 64);
  const bodyLimit = options.bodyLimit ?? 4 * 1024 * 1024;
  const ctx: ServerContext = {
    engine,
    modelId,
    shutdown: shutdown.signal,
    loggedRequests: new WeakSet(),
    log: (entry) => {
      if (options.logToStderr !== false) process.stderr.write(`${formatLogEntry(entry)}\n`);
      options.onLog?.(entry);
    },
    reportError: (err) => {
      process.stderr.write(`xverse serve: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    },
  };

  const app = Fastify({
    bodyLimit,
    // Strict types: "5" is not a number here, as in OpenAI's API (fastify coerces by default).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const errorMessages = new WeakMap<object, string>();
  const isApiPath = (url: string) => url.startsWith('/v1/') || url === '/v1' || url.startsWith('/debug/');

  if (options.apiKey !== undefined) {
    const apiKey = options.apiKey;
    app.addHook('onRequest', async (request, reply) => {
      if (!isApiPath(request.url) || authorized(request.headers.authorization, apiKey)) return;
      const missing = request.headers.authorization === undefined;
      const err = new ApiError(401, missing ? 'Missing API key: send "Authorization: Bearer <key>"' : 'Incorrect API key provided', null, 'invalid_api_key');
      errorMessages.set(request.raw, err.message);
      return sendApiError(reply, err);
    });
  }

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let apiError: ApiError;
    if (error instanceof ApiError) apiError = error;
    else if (error.validation) apiError = validationError(error.validation as unknown as SchemaError[]);
    else if (error.statusCode === 413) apiError = new ApiError(413, `the request body is larger than the limit of ${bodyLimit} bytes`, null, 'request_too_large');
    else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) apiError = new ApiError(error.statusCode, error.message);
    else {
      ctx.reportError(error);
      apiError = new ApiError(500, 'internal error (see the server log)', null, 'internal_error');
    }
    errorMessages.set(request.raw, apiError.message);
    return sendApiError(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new ApiError(404, `Invalid URL (${request.method} ${request.url.split('?')[0]})`, null, 'unknown_url');
    errorMessages.set(request.raw, err.message);
    return sendApiError(reply, err);
  });

  // Requests that never reached a generation (listing models, rejected ones) get their line here.
  const started = new WeakMap<object, number>();
  app.addHook('onRequest', async (request) => {
    started.set(request.raw, performance.now());
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!isApiPath(request.url) || ctx.loggedRequests.has(request.raw)) return;
    const message = errorMessages.get(request.raw);
    ctx.log({
      time: new Date().toISOString(), client: request.ip, method: request.method, url: request.url, status: reply.statusCode,
      promptTokens: 0, generatedTokens: 0, tokensPerSecond: 0,
      outcome: message === undefined ? 'ok' : `error: ${message}`,
      ms: performance.now() - (started.get(request.raw) ?? performance.now()),
    });
  });

  registerModelRoutes(app, ctx);
  registerChatRoute(app, ctx);
  registerCompletionsRoute(app, ctx);
  if (options.debug) registerDebugRoutes(app, ctx);
  if (options.webUi !== false) await registerWebUi(app, { title: options.title ?? modelId });

  return {
    app,
    modelId,
    stats: () => engine.stats(),
    async listen({ host = '127.0.0.1', port = 36000 } = {}) {
      await app.listen({ host, port });
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address !== null ? address.port : port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      return `http://${shownHost}:${actualPort}`;
    },
    async close(graceMs = 5000) {
      const timer = setTimeout(() => shutdown.abort(), graceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        shutdown.abort();
      }
    },
  };
}
