import { once } from 'node:events';
import type { FastifyReply } from 'fastify';

/**
 * Writes a server-sent event stream the way OpenAI does: `data: {json}\n\n` per chunk and
 * `data: [DONE]\n\n` at the end. Fastify's reply is hijacked, so the handler owns the socket.
 * Writes wait for `drain` when the client reads slowly, so a slow reader slows its generation
 * instead of buffering it all in memory; a closed connection makes every write a no-op.
 */
export class SseWriter {
  constructor(private readonly reply: FastifyReply) {}

  start(): void {
    this.reply.hijack();
    this.reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  get closed(): boolean {
    return this.reply.raw.destroyed || this.reply.raw.writableEnded;
  }

  async send(data: unknown): Promise<void> {
    await this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  async done(): Promise<void> {
    await this.write('data: [DONE]\n\n');
    if (!this.closed) this.reply.raw.end();
  }

  private async write(text: string): Promise<void> {
    const raw = this.reply.raw;
    if (this.closed) return;
    if (!raw.write(text)) await Promise.race([once(raw, 'drain'), once(raw, 'close')]);
  }
}
