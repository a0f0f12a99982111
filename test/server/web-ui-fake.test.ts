import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, findChromium, launchChromium, openPage, recordStreamingLengths, streamingLengths } from './web-browser.js';
import { startFakeApi, XSS_REPLY, type FakeApi } from './web-fake-api.js';

// The web UI in a real browser against a scripted API (web-fake-api.ts): the parts that need
// replies on demand — a slow stream to watch and stop, hostile markup in a reply. The same pages
// against the real server and model are covered in web-ui.test.ts.
const chromiumPath = findChromium();

describe('web UI (browser, scripted API)', { skip: browserSkipReason(chromiumPath), timeout: 30_000 }, () => {
  let browser: Browser;
  let api: FakeApi;
  before(async () => {
    api = await startFakeApi();
    browser = await launchChromium(chromiumPath as string);
  });
  after(async () => {
    await browser?.close();
    await api?.close();
  });

  const lastChatRequest = () => api.requests.at(-1) as { messages: Array<{ role: string; content: string }> } & Record<string, unknown>;
  const waitIdle = (page: Page) => page.locator('#send:not([disabled])').waitFor();

  test('Enter sends, the reply streams in, Shift+Enter is a newline, the title is escaped', async () => {
    const { page, problems } = await openPage(browser, api.url);
    assert.equal(await page.locator('h1').textContent(), 'Fake <XVERSE>');
    await page.locator('#message').fill('first line');
    await page.locator('#message').press('Shift+Enter');
    await page.locator('#message').pressSequentially('second');
    assert.equal(await page.locator('#message').inputValue(), 'first line\nsecond');
    assert.equal(await page.locator('.bubble').count(), 0, 'Shift+Enter must not send');

    await recordStreamingLengths(page);
    await page.locator('#message').press('Enter');
    await page.locator('.bubble.assistant:not(.streaming)').waitFor();
    await waitIdle(page);
    assert.equal(await page.locator('.bubble.assistant').textContent(), 'Hello, world!');
    assert.equal(await page.locator('.bubble.user').innerText(), 'first line\nsecond');
    const lengths = await streamingLengths(page);
    assert.ok(lengths.length >= 2, `expected the reply to grow in steps, saw lengths ${JSON.stringify(lengths)}`);
    assert.equal(await page.locator('#message').inputValue(), '');
    assert.deepEqual(lastChatRequest().messages, [{ role: 'user', content: 'first line\nsecond' }]);
    assert.equal(lastChatRequest().stream, true);
    assert.equal(lastChatRequest().model, 'fake-model');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('Stop cancels the stream; the partial reply stays and Send works again', async () => {
    const { page, problems } = await openPage(browser, api.url);
    const cancelledBefore = api.cancelled();
    await page.locator('#message').fill('tell me a long story');
    await page.locator('#send').click();
    await page.waitForFunction(() => ((globalThis as any).document.querySelector('.bubble.assistant')?.textContent ?? '').length > 10);
    assert.equal(await page.locator('#stop').isEnabled(), true);
    await page.locator('#stop').click();
    await waitIdle(page);
    assert.equal(await page.locator('#stop').isEnabled(), false);
    assert.equal(await page.locator('#status').textContent(), 'Stopped.');
    const partial = (await page.locator('.bubble.assistant').textContent()) ?? '';
    assert.ok(partial.length > 0 && !partial.includes('word199'), `reply should end early: ${partial.length} chars`);
    // The server sees the closed connection and stops writing.
    const deadline = Date.now() + 5000;
    while (api.cancelled() === cancelledBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(api.cancelled(), cancelledBefore + 1);

    await page.locator('#message').fill('short please');
    await page.locator('#message').press('Enter');
    await page.locator('.bubble.assistant >> nth=1').waitFor();
    await waitIdle(page);
    const sent = lastChatRequest().messages;
    assert.equal(sent.length, 3);
    assert.equal(sent[1]?.role, 'assistant');
    assert.equal(sent[1]?.content.trim(), partial.trim());
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('markup in a user message or a reply is shown as text, never run', async () => {
    const { page, problems } = await openPage(browser, api.url);
    const hostile = 'xss <script>window.__xss = 9</script> <b>not bold</b>';
    await page.locator('#message').fill(hostile);
    await page.locator('#message').press('Enter');
    await page.locator('.bubble.assistant:not(.streaming)').waitFor();
    await waitIdle(page);
    assert.equal(await page.locator('.bubble.user').textContent(), hostile);
    const reply = page.locator('.bubble.assistant');
    assert.match((await reply.textContent()) ?? '', /<script>window.__xss = 1<\/script> <img src=x onerror=/);
    assert.equal(await page.locator('#history script, #history img, #history b, #history [onerror]').count(), 0);
    // Markdown still works around it; the javascript: link is not a link.
    assert.equal(await reply.locator('strong').textContent(), 'bold');
    assert.equal(await reply.locator('code').textContent(), 'code');
    assert.equal(await reply.locator('a').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as any).__xss), undefined);
    assert.ok(XSS_REPLY.includes('<script>'));
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('system goes first on the first turn only; exec replaces the user message and is cleared; Reset starts over', async () => {
    const { page, problems } = await openPage(browser, api.url);
    await page.locator('summary').click();
    await page.getByLabel('System', { exact: false }).fill('You are terse.');
    await page.locator('.param[name="temperature"]').fill('0.3');
    await page.locator('.param[name="top_k"]').fill('5');
    await page.locator('#message').fill('find a hotel');
    await page.locator('#message').press('Enter');
    await waitIdle(page);
    await page.locator('.bubble.assistant:not(.streaming)').waitFor();
    assert.deepEqual(lastChatRequest().messages, [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'find a hotel' },
    ]);
    assert.equal(lastChatRequest().temperature, 0.3);
    assert.equal(lastChatRequest().top_k, 5);
    assert.equal('top_p' in lastChatRequest(), false, 'empty controls are left to the server');

    await page.getByLabel('Exec', { exact: false }).fill('{"hotels": 3}');
    await page.locator('#message').fill('ignored while exec is set');
    await page.locator('#send').click();
    await page.locator('.bubble.assistant >> nth=1').waitFor();
    await waitIdle(page);
    const sent = lastChatRequest().messages;
    assert.deepEqual(sent.map((m) => m.role), ['system', 'user', 'assistant', 'tool']);
    assert.equal(sent[3]?.content, '{"hotels": 3}');
    assert.equal(await page.getByLabel('Exec', { exact: false }).inputValue(), '');
    assert.equal(await page.locator('#message').inputValue(), '');
    assert.equal(await page.locator('.bubble.exec').textContent(), '{"hotels": 3}');

    await page.locator('#reset').click();
    assert.equal(await page.locator('.bubble').count(), 0);
    await page.locator('#message').fill('again');
    await page.locator('#message').press('Enter');
    await waitIdle(page);
    await page.locator('.bubble.assistant:not(.streaming)').waitFor();
    assert.deepEqual(lastChatRequest().messages.map((m) => m.role), ['system', 'user']);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the chat page fits a 360 px phone screen', async () => {
    const { page, problems } = await openPage(browser, api.url, { width: 360, height: 740 });
    await page.locator('#message').fill('Hello there, this is a rather wordy message to check that bubbles wrap at phone width');
    await page.locator('#message').press('Enter');
    await waitIdle(page);
    const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number);
    assert.ok(width <= 360, `page is ${width}px wide at a 360px viewport`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the text-generation page streams /v1/completions with the demo defaults; Clear empties it', async () => {
    const { page, problems } = await openPage(browser, `${api.url}/generate`);
    await page.getByLabel('Input').fill('Once upon a time');
    await page.locator('#generate').click();
    await page.locator('#generate:not([disabled])').waitFor();
    await page.waitForFunction(() => (globalThis as any).document.getElementById('output-text').textContent === 'Hello, world!');
    assert.equal(await page.locator('#output').textContent(), 'Once upon a timeHello, world!');
    const body = api.requests.at(-1) as Record<string, unknown>;
    assert.deepEqual(body, { prompt: 'Once upon a time', stream: true, max_tokens: 100, temperature: 1, top_k: 50, top_p: 0.92, model: 'fake-model' });
    await page.locator('#clear').click();
    assert.equal(await page.locator('#output').textContent(), '');
    assert.equal(await page.getByLabel('Input').inputValue(), '');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('with a server that needs an API key: the refusal is shown and the message kept; with the key it works', async () => {
    const locked = await startFakeApi({ apiKey: 'sesame' });
    try {
      const { page, problems } = await openPage(browser, locked.url);
      await page.locator('#message').fill('hello');
      await page.locator('#message').press('Enter');
      await waitIdle(page);
      assert.match((await page.locator('#status').textContent()) ?? '', /^Error: Missing API key/);
      assert.equal(await page.locator('.bubble').count(), 0, 'the refused turn is taken back');
      assert.equal(await page.locator('#message').inputValue(), 'hello', 'and the message is back in the box');
      await page.locator('summary').click();
      await page.getByLabel('API key', { exact: false }).fill('sesame');
      await page.locator('#send').click();
      await page.locator('.bubble.assistant:not(.streaming)').waitFor();
      await waitIdle(page);
      assert.equal(await page.locator('.bubble.assistant').textContent(), 'Hello, world!');
      assert.equal(locked.requests.at(-1)?.model, 'fake-model');
      // The key follows the user to the other page (same tab).
      await page.goto(`${locked.url}/generate`);
      assert.equal(await page.getByLabel('API key', { exact: false }).inputValue(), 'sesame');
      // A 401 from the API surfaces as a console "Failed to load resource" line; nothing else may.
      assert.deepEqual(problems.filter((p) => !/401/.test(p)), []);
      await page.close();
    } finally {
      await locked.close();
    }
  });
});
