import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationResult } from '../generation/generate.js';
import { ApiError } from './api-error.js';
import type { ServerContext } from './context.js';
import { QueueFullError } from './scheduler.js';

/**
 * One admitted generation: its abort signal (fired when the client disconnects, when the server
 * shuts down, or when the web UI's Stop button closes its fetch — the same thing to the server),
 * its scheduler slot, and its log line. `finish` must be called exactly once (route handlers do it
 * in `finally`).
 */
export class GenerationSession {
  private readonly controller = new AbortController();
  private release: (() => void) | null = null;
  private readonly started = performance.now();
  private readonly onClose = (): void => {
    // 'close' also follows a normal end; only a close before the response finished is a disconnect.
    if (!this.reply.raw.writableFinished) this.controller.abort();
  };
  private readonly onShutdown = (): void => this.controller.abort();

  constructor(private readonly ctx: ServerContext, private readonly request: FastifyRequest, private readonly reply: FastifyReply) {
    reply.raw.on('close', this.onClose);
    ctx.shutdown.addEventListener('abort', this.onShutdown, { once: true });
    if (ctx.shutdown.aborted) this.controller.abort();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Waits (FIFO) for a generation slot; 503 when the queue is full. Returns false if the client left while waiting. */
  async admit(): Promise<boolean> {
    try {
      this.release = await this.ctx.engine.admit(this.signal);
      return true;
    } catch (err) {
      if (err instanceof QueueFullError) throw new ApiError(503, err.message, null, 'queue_full');
      if (this.signal.aborted) return false;
      throw err;
    }
  }

  finish(outcome: { status: number; promptTokens: number; result: GenerationResult | null; reason: string }): void {
    this.release?.();
    this.release = null;
    this.reply.raw.off('close', this.onClose);
    this.ctx.shutdown.removeEventListener('abort', this.onShutdown);
    this.ctx.loggedRequests.add(this.request.raw);
    const generated = outcome.result?.stats.generatedTokens ?? 0;
    const seconds = (outcome.result?.stats.totalMs ?? 0) / 1000;
    this.ctx.log({
      time: new Date().toISOString(),
      client: this.request.ip,
      method: this.request.method,
      url: this.request.url,
      status: outcome.status,
      promptTokens: outcome.promptTokens,
      generatedTokens: generated,
      tokensPerSecond: seconds > 0 ? generated / seconds : 0,
      outcome: outcome.reason,
      ms: performance.now() - this.started,
    });
  }
}
