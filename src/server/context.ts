import type { Engine } from './engine.js';
import type { RequestLogEntry } from './request-log.js';

/** What the route handlers share. */
export interface ServerContext {
  readonly engine: Engine;
  /** The id `/v1/models` lists and requests must name. */
  readonly modelId: string;
  /** Fires on shutdown: every generation in flight stops. */
  readonly shutdown: AbortSignal;
  log(entry: RequestLogEntry): void;
  /** Raw requests already logged by their handler (the others get a line from the onResponse hook). */
  readonly loggedRequests: WeakSet<object>;
  /** Records an unexpected error (a bug) with its stack, for the operator. */
  reportError(err: unknown): void;
}
