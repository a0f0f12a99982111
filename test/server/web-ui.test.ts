import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/index.js';
import { createServer } from '../../src/server/app.js';
import { buildChatInputV2 } from '../../src/chat/prompt-v2.js';
import { browserSkipReason, findChromium, launchChromium, openPage, recordStreamingLengths, streamingLengths } from './web-browser.js';

// Acceptance test of the web UI against the real server (`createServer`) and the embedded
// stories260K model: chat streaming, Stop, Reset, the system/exec flow down to the prompt ids the
// model saw (`/debug/last-prompt`), and markup shown as text. Scripted replies (hostile markup in a
// reply, a stream stopped at a known point) are in web-ui-fake.test.ts.
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MODEL = path.join(REPO, 'models', 'stories260K');
const chromiumPath = findChromium();

interface Served {
  url: string;
  close(): Promise<void>;
}

/** Starts the real server on 127.0.0.1, an ephemeral port. */
async function startServer(): Promise<Served> {
  const [model, tokenizer] = await Promise.all([AutoModelForCausalLM.fromPretrained(MODEL), AutoTokenizer.fromPretrained(MODEL)]);
  const server = await createServer({ model, tokenizer, debug: true, title: 'XVERSE web test', logToStderr: false });
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  return { url, close: () => server.close(0) };
}

/**
 * Slows the page's downloads (DevTools network emulation): the tiny model writes a whole reply in
 * milliseconds, faster than a browser paints, so without this "watch it grow" and "stop it midway"
 * would depend on timing luck. ~40 SSE events a second.
 */
async function throttle(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: bytesPerSecond, uploadThroughput: -1 });
}

const skip = browserSkipReason(chromiumPath) || (!existsSync(MODEL) ? `no model at ${MODEL}` : false);

describe('web UI (browser, real server and model)', { skip, timeout: 35_000 }, () => {
  let browser: Browser;
  let server: Served;
  before(async () => {
    server = await startServer();
    browser = await launchChromium(chromiumPath as string);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const waitIdle = (page: Page) => page.locator('#send:not([disabled])').waitFor();
  const lastBubbleText = (page: Page) => page.locator('.bubble.assistant').last().textContent();

  test('Enter sends; the reply grows while it streams; Stop cancels; Reset clears', async () => {
    const { page, problems } = await openPage(browser, server.url);
    await throttle(page, 6000);
    await page.locator('summary').click();
    await page.locator('.param[name="max_tokens"]').fill('200');
    await page.locator('.param[name="temperature"]').fill('0');

    await recordStreamingLengths(page);
    await page.locator('#message').fill('Once upon a time');
    await page.locator('#message').press('Enter');
    await page.locator('.bubble.assistant:not(.streaming)').waitFor({ timeout: 20_000 });
    await waitIdle(page);
    const lengths = await streamingLengths(page);
    assert.ok(new Set(lengths).size >= 2, `expected the reply to grow in steps, saw lengths ${JSON.stringify(lengths)}`);
    const full = (await lastBubbleText(page)) ?? '';
    assert.ok(full.length > 0);

    // The same greedy request again, stopped as soon as text shows: it must end short of `full`.
    await page.locator('#message').fill('Once upon a time');
    await page.locator('#send').click();
    await page.waitForFunction(() => {
      const bubbles = (globalThis as any).document.querySelectorAll('.bubble.assistant');
      return (bubbles[bubbles.length - 1]?.textContent ?? '').length > 0;
    });
    await page.locator('#stop').click();
    await waitIdle(page);
    assert.equal(await page.locator('#status').textContent(), 'Stopped.');
    const stopped = (await lastBubbleText(page)) ?? '';
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await lastBubbleText(page), stopped, 'nothing arrives after Stop');
    assert.ok(stopped.length < full.length, `stopped reply (${stopped.length} chars) should be shorter than the full one (${full.length})`);
    assert.equal(await page.locator('#send').isEnabled(), true);

    await page.locator('#reset').click();
    assert.equal(await page.locator('#history .bubble').count(), 0);
    assert.equal(await page.locator('#status').textContent(), '');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('system text, a user turn, then an exec result: the prompt has the v2 layout (spec §3.2)', async () => {
    const { page, problems } = await openPage(browser, server.url);
    // What the page sent: the second request carries the first reply as the server wrote it (the
    // bubble shows it rendered as Markdown).
    const sent: Array<Array<{ role: string; content: string }>> = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/v1/chat/completions')) sent.push(request.postDataJSON().messages);
    });
    const system = 'You are a storyteller.';
    const user = 'Tell me about <script>window.__xss = 1</script> a cat';
    const result = '{"weather": "sunny"}';
    await page.locator('summary').click();
    await page.locator('.param[name="max_tokens"]').fill('12');
    await page.locator('.param[name="temperature"]').fill('0');
    await page.getByLabel('System', { exact: false }).fill(system);
    await page.locator('#message').fill(user);
    await page.locator('#message').press('Enter');
    await page.locator('.bubble.assistant:not(.streaming)').waitFor();
    await waitIdle(page);
    // The user's markup is text: no element was made from it, nothing ran.
    assert.equal(await page.locator('.bubble.user').textContent(), user);
    assert.equal(await page.locator('#history script').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as any).__xss), undefined);

    await page.getByLabel('Exec', { exact: false }).fill(result);
    await page.locator('#send').click();
    await page.locator('.bubble.assistant >> nth=1').waitFor();
    await waitIdle(page);
    await page.locator('.bubble.assistant:not(.streaming) >> nth=1').waitFor();
    assert.equal(await page.getByLabel('Exec', { exact: false }).inputValue(), '', 'exec is cleared after sending');
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[1]?.map((m) => m.role), ['system', 'user', 'assistant', 'tool']);
    const reply = sent[1]?.[2]?.content as string;

    const last = (await (await fetch(`${server.url}/debug/last-prompt`)).json()) as { prompt_ids: number[]; text: string };
    const tokenizer = await AutoTokenizer.fromPretrained(MODEL);
    const expectedIds = buildChatInputV2(tokenizer, [
      { role: 'system', content: system },
      { role: 'user', content: user },
      { role: 'assistant', content: reply },
      { role: 'exec', content: result },
    ], { maxPositionEmbeddings: 512, maxNewTokens: 12, eosTokenId: tokenizer.eosTokenId as number, maxTokenizerTruncation: null });
    assert.deepEqual(last.prompt_ids, expectedIds);
    // Spelled out: `Human: {system}\n` `Human: {user}\n\n` `Assistant: {reply}<eos>` `Exec: {result}\n\n` `Assistant: `.
    // Each segment is encoded on its own (spec §3.2), so this llama2c vocabulary decodes a leading
    // space at every segment start; the pattern allows exactly that, and the eos token's text.
    assert.equal(last.text, tokenizer.decode(expectedIds, { skipSpecialTokens: false }));
    const seg = (text: string) => ` ?${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
    const layout = new RegExp(
      `^${seg('Human: ')}${seg(`${system}\n`)}${seg('Human: ')}${seg(`${user}\n\n`)}${seg('Assistant: ')}${seg(reply)}` +
        `\\s*${seg(tokenizer.eosToken as string)}\\s*${seg('Exec: ')}${seg(`${result}\n\n`)}${seg('Assistant: ')}$`,
    );
    assert.match(last.text, layout);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the text-generation page continues a prompt through /v1/completions', async () => {
    const { page, problems } = await openPage(browser, `${server.url}/generate`);
    await page.getByLabel('Input').fill('Once upon a time');
    await page.locator('#max_tokens').fill('30');
    assert.equal(await page.locator('output[for="max_tokens"]').textContent(), '30');
    await page.locator('#generate').click();
    await page.locator('#generate:not([disabled])').waitFor();
    assert.equal(await page.locator('#status').textContent(), '');
    assert.equal(await page.locator('#output-prompt').textContent(), 'Once upon a time');
    assert.ok(((await page.locator('#output-text').textContent()) ?? '').length > 0, 'some text was generated');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
