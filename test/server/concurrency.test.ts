import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadTinyModel, getJson, startServer, type TestServer } from './server-helpers.js';
import type { EngineStats } from '../../src/server/engine.js';

const MODEL = 'stories260K';
const MAX_TOKENS = 200;
let t: TestServer;

// The test runner starts files without --expose-gc; V8 lets a process turn it on for new contexts.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

before(async () => {
  const tiny = await loadTinyModel();
  t = await startServer({ ...tiny, concurrency: 4 });
});
after(() => t.close());

const stats = async () => (await getJson<EngineStats>(`${t.url}/debug/stats`)).body;

/** 16 streaming chats; every third is aborted by its client after 3 content chunks. Returns each one's outcome. */
async function wave(wave: number): Promise<Array<{ aborted: boolean; text: string; finish: string | null; chunks: number }>> {
  return Promise.all(Array.from({ length: 16 }, async (_, i) => {
    const abort = i % 3 === 2;
    const controller = new AbortController();
    const stream = await t.client.chat.completions.create(
      // A different prompt per client, so each stream is its own generation.
      { model: MODEL, messages: [{ role: 'user', content: `Story ${wave}-${i}` }], max_tokens: MAX_TOKENS, temperature: 0.8, seed: i, stream: true },
      { signal: controller.signal },
    );
    let text = '';
    let finish: string | null = null;
    let chunks = 0;
    try {
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta.content ?? '';
        text += delta;
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (delta) chunks++;
        if (abort && chunks === 3) controller.abort();
      }
    } catch (err) {
      if (!abort) throw err;
    }
    return { aborted: abort, text, finish, chunks };
  }));
}

test('16 concurrent streams, a third aborted: the rest complete, aborted ones stop, the queue drains, memory returns', async () => {
  const logsBefore = t.logs.length;
  const statsBefore = await stats();
  // /v1/models must answer while the generations run (they yield to the event loop every token).
  let modelsAnswered = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const page = await t.client.models.list();
      assert.equal(page.data[0]!.id, MODEL);
      modelsAnswered++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const results = await wave(1);
  const during = await stats();
  polling = false;
  await poller;
  assert.ok(modelsAnswered >= 2, `models answered ${modelsAnswered} times`);

  for (const r of results.filter((x) => !x.aborted)) assert.ok(r.finish === 'stop' || r.finish === 'length', `finish ${r.finish}`);
  for (const r of results.filter((x) => x.aborted)) assert.equal(r.finish, null);

  // Wait for the server side of the aborted streams to notice the closed sockets.
  for (let i = 0; i < 100 && t.logs.length - logsBefore < 16; i++) await new Promise((r) => setTimeout(r, 20));
  const entries = t.logs.slice(logsBefore).filter((e) => e.url === '/v1/chat/completions');
  assert.equal(entries.length, 16);
  const aborted = entries.filter((e) => e.outcome === 'abort');
  assert.equal(aborted.length, 5, entries.map((e) => e.outcome).join(','));
  // An aborted generation stops soon after its client left: far fewer tokens than a finished one.
  for (const e of aborted) assert.ok(e.generatedTokens < MAX_TOKENS / 2, `aborted generation made ${e.generatedTokens} tokens`);

  const after = await stats();
  assert.deepEqual([after.active, after.queued], [0, 0]);
  assert.equal(after.maxActive, 4, 'concurrency is the limit of generations running at once');
  assert.equal(after.generations - statsBefore.generations, 16);
  assert.equal(during.generatedTokens, after.generatedTokens);
  // Nothing keeps generating in the background.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await stats()).generatedTokens, after.generatedTokens);
  assert.equal(after.generatedTokens - statsBefore.generatedTokens, entries.reduce((sum, e) => sum + e.generatedTokens, 0));

  // Memory: the first wave warmed everything up; a second wave must not leave garbage behind.
  gc();
  const baseline = process.memoryUsage();
  await wave(2);
  for (let i = 0; i < 100 && (await stats()).active > 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const end = process.memoryUsage();
  const MiB = 1024 * 1024;
  assert.ok(end.heapUsed - baseline.heapUsed < 8 * MiB, `heapUsed grew by ${((end.heapUsed - baseline.heapUsed) / MiB).toFixed(1)} MiB`);
  assert.ok(end.arrayBuffers - baseline.arrayBuffers < 8 * MiB, `arrayBuffers grew by ${((end.arrayBuffers - baseline.arrayBuffers) / MiB).toFixed(1)} MiB`);
});
