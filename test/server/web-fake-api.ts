import Fastify, { type FastifyInstance } from 'fastify';
import { registerWebUi } from '../../src/server/web-ui.js';

/**
 * A test-only stand-in for the OpenAI-compatible API: it serves the real web UI and streams
 * scripted replies at a fixed pace, so the browser test can watch a reply grow, stop it midway and
 * check that hostile markup in a reply stays text — none of which the tiny real model can be made to
 * do on demand. What the pages send is recorded for the assertions.
 */
export interface FakeApi {
  readonly url: string;
  /** Bodies of the POSTed chat/completions requests, in order. */
  readonly requests: Array<Record<string, unknown>>;
  /** How many streams the client closed before the scripted reply was finished. */
  readonly cancelled: () => number;
  close(): Promise<void>;
}

export const XSS_REPLY = 'Careful: <script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2"> and **bold** `code` [bad](javascript:window.__xss=3)';

/** The reply for the last message: scripted by a keyword in it. */
function scriptFor(lastContent: string): { pieces: string[]; delayMs: number } {
  if (lastContent.includes('xss')) return { pieces: [XSS_REPLY.slice(0, 20), XSS_REPLY.slice(20)], delayMs: 10 };
  if (lastContent.includes('long')) {
    return { pieces: Array.from({ length: 200 }, (_, i) => `word${i} `), delayMs: 50 };
  }
  return { pieces: ['Hello', ', ', 'world', '!'], delayMs: 80 };
}

export async function startFakeApi(options: { apiKey?: string } = {}): Promise<FakeApi> {
  const app: FastifyInstance = Fastify({ logger: false });
  const requests: Array<Record<string, unknown>> = [];
  let cancelled = 0;
  await registerWebUi(app, { title: 'Fake <XVERSE>' });
  if (options.apiKey !== undefined) {
    // As the real server with --api-key: the API needs the key, the pages do not.
    const expected = `Bearer ${options.apiKey}`;
    app.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/v1/') || request.headers.authorization === expected) return;
      return reply.code(401).send({ error: { message: 'Missing API key: send "Authorization: Bearer <key>"', type: 'authentication_error', param: null, code: 'invalid_api_key' } });
    });
  }

  app.get('/v1/models', async () => ({ object: 'list', data: [{ id: 'fake-model', object: 'model', owned_by: 'test' }] }));

  for (const [route, field] of [['/v1/chat/completions', 'chat'], ['/v1/completions', 'text']] as const) {
    app.post(route, async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      requests.push(body);
      const last = field === 'chat'
        ? String((body.messages as Array<{ content: string }>).at(-1)?.content ?? '')
        : String(body.prompt ?? '');
      const { pieces, delayMs } = scriptFor(last);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let closed = false;
      res.on('close', () => (closed = true));
      for (const piece of pieces) {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (closed) {
          cancelled++;
          return;
        }
        const choice = field === 'chat' ? { index: 0, delta: { content: piece } } : { index: 0, text: piece };
        res.write(`data: ${JSON.stringify({ choices: [choice] })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    });
  }

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fake API: no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    cancelled: () => cancelled,
    close: () => app.close(),
  };
}
