import { HubError, HubUnreachableError } from '../errors.js';

/** How often and how patiently transient failures (network errors, stalls, 5xx, 429) are retried. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Wait before the first retry; doubles each time up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** huggingface_hub's http_backoff defaults: 5 retries, 1 s doubling to at most 8 s. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 1000, maxDelayMs: 8000 };

export interface HubClientOptions {
  endpoint: string;
  token: string | null;
  /** A request with no data for this long is aborted and retried. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Cancels every request of this client. */
  signal?: AbortSignal;
}

/** A failure that may pass if tried again: the connection, a stall, a 5xx or a 429. */
export class TransientError extends Error {}

/**
 * Aborts a request when no data has arrived for `ms` (reset with `touch` per chunk), or when the
 * outer signal aborts. A plain timeout would kill a slow but healthy multi-GB download.
 */
export class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onOuterAbort = () => this.controller.abort(this.outer?.reason);
  stalled = false;

  constructor(private readonly ms: number, private readonly outer?: AbortSignal) {
    if (outer?.aborted) this.controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort(new TransientError(`no data for ${this.ms / 1000} s`));
    }, this.ms);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }

  /** Maps what a fetch or body read threw onto a TransientError (retry) or the outer abort (stop). */
  classify(err: unknown): Error {
    if (this.outer?.aborted) return err instanceof Error ? err : new Error(String(err));
    if (this.stalled) return new TransientError(`no data for ${this.ms / 1000} s`);
    if (err instanceof HubError || err instanceof TransientError) return err;
    const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
    return new TransientError(`connection failed (${detail})`);
  }
}

export interface SendOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** 'relative': follow only same-host redirects (a renamed repo), leaving a CDN redirect to the caller. */
  redirects: 'relative' | 'all';
}

export interface Sent {
  response: Response;
  /** The URL that answered, after the redirects followed. */
  url: string;
  /** Still running: the caller reading the body must `touch` it per chunk and `clear` it at the end. */
  watchdog: Watchdog;
}

const MAX_REDIRECTS = 10;

/** HTTP to the Hub and its CDN, with the token sent to the Hub's own host only. */
export class HubClient {
  private readonly endpointHost: string;

  constructor(readonly options: HubClientOptions) {
    this.endpointHost = new URL(options.endpoint).host;
  }

  get hasToken(): boolean {
    return this.options.token !== null;
  }

  /**
   * One request, redirects followed by hand so that each hop decides on its own whether to carry
   * the token: never to another host (a CDN URL is pre-signed and must not see it).
   * Throws TransientError on a network failure or stall; any status is returned as is.
   */
  async send(url: string, options: SendOptions): Promise<Sent> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const watchdog = new Watchdog(this.options.timeoutMs, this.options.signal);
      const target = new URL(current);
      const headers: Record<string, string> = { 'Accept-Encoding': 'identity', 'User-Agent': 'xverse-ts', ...options.headers };
      if (this.options.token !== null && target.host === this.endpointHost) headers['Authorization'] = `Bearer ${this.options.token}`;
      let response: Response;
      try {
        response = await fetch(target, { method: options.method ?? 'GET', headers, redirect: 'manual', signal: watchdog.signal });
      } catch (err) {
        watchdog.clear();
        const failure = watchdog.classify(err);
        // Name the server: "connection failed (ECONNREFUSED)" alone does not say where to look.
        throw failure instanceof TransientError ? new TransientError(`${failure.message} reaching ${target.origin}`) : failure;
      }
      const location = response.headers.get('location');
      if (response.status < 300 || response.status > 399 || location === null) return { response, url: current, watchdog };
      const next = new URL(location, target);
      if (options.redirects === 'relative' && next.host !== target.host) return { response, url: current, watchdog };
      watchdog.clear();
      await response.body?.cancel().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw new HubError(`too many redirects from ${url}`);
      current = next.href;
    }
  }

  /**
   * Runs `attempt` until it succeeds, retrying TransientErrors with exponential backoff.
   * `madeProgress` (a resumed download that got further) starts the count afresh.
   */
  async withRetries<T>(what: string, attempt: (madeProgress: () => void) => Promise<T>): Promise<T> {
    const { retries, baseDelayMs, maxDelayMs } = this.options.retry;
    for (let failures = 0; ; ) {
      try {
        return await attempt(() => (failures = 0));
      } catch (err) {
        if (!(err instanceof TransientError)) throw err;
        if (failures >= retries) throw new HubUnreachableError(`${what}: ${err.message} (gave up after ${failures + 1} attempts)`);
        await sleep(Math.min(maxDelayMs, baseDelayMs * 2 ** failures), this.options.signal);
        failures++;
      }
    }
  }

  /** The error for a non-success status: transient (retry) for 5xx and 429, else a one-line HubError. */
  statusError(response: Response, what: string): Error {
    const status = response.status;
    if (status >= 500 || status === 429) return new TransientError(`HTTP ${status} ${response.statusText}`.trim());
    // The Hub names the cause: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo.
    const code = response.headers.get('x-error-code');
    if (code === 'RepoNotFound') {
      return new HubError(`${what}: repository not found (HTTP ${status})${this.hasToken ? '' : '; if it is private, set HF_TOKEN'}`);
    }
    if (status === 401 || status === 403 || code === 'GatedRepo') {
      const fix = this.hasToken
        ? 'the token in HF_TOKEN does not give access to it (for a gated model, accept its conditions on the Hub first)'
        : 'the repository is gated or private: set HF_TOKEN to a Hugging Face access token that can read it';
      return new HubError(`${what}: access denied (HTTP ${status}); ${fix}`);
    }
    if (code === 'RevisionNotFound') return new HubError(`${what}: revision not found (HTTP ${status})`);
    if (status === 404) return new HubError(`${what}: not found (HTTP 404)`);
    return new HubError(`${what}: HTTP ${status} ${response.statusText}`.trim());
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
