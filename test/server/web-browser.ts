import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The browser tests drive a system Chromium (Debian's `chromium` package, which .ci/run installs);
 * playwright-core downloads no browser of its own. `XVERSE_CHROMIUM` points at another binary.
 */
export function findChromium(): string | null {
  const candidates = [process.env.XVERSE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p)) ?? null;
}

export const NO_CHROMIUM_REASON = 'no chromium binary found (apt-get install chromium, or set XVERSE_CHROMIUM)';

/**
 * Why the browser tests skip, or false to run them. CI sets XVERSE_REQUIRE_BROWSER=1 so that a
 * missing browser fails the run instead of quietly skipping the acceptance tests.
 */
export function browserSkipReason(chromiumPath: string | null): string | false {
  if (chromiumPath !== null) return false;
  if (process.env.XVERSE_REQUIRE_BROWSER === '1') throw new Error(`XVERSE_REQUIRE_BROWSER=1 but ${NO_CHROMIUM_REASON}`);
  return NO_CHROMIUM_REASON;
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium refuses to start sandboxed.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}

/**
 * Opens `url` in a fresh page that fails the test on any page error, console error, or request to
 * another origin (the UI must work offline: everything comes from the app itself).
 */
export async function openPage(browser: Browser, url: string, viewport = { width: 1024, height: 800 }): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport });
  // Fail a stuck step well inside the test's own timeout, with a message naming what it waited for.
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  const origin = new URL(url).origin;
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) problems.push(`off-origin request: ${request.url()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/**
 * Starts recording every distinct length of the last assistant bubble's text while it carries the
 * `streaming` class, so a test can tell a reply that grew from one that appeared all at once.
 */
export async function recordStreamingLengths(page: Page): Promise<void> {
  // Runs in the page; the project compiles without the DOM typings, hence `any`.
  await page.evaluate(() => {
    const w = globalThis as any;
    w.__lengths = [];
    const history = w.document.getElementById('history');
    new w.MutationObserver(() => {
      const bubbles = history.querySelectorAll('.bubble.assistant.streaming');
      const length = bubbles.length === 0 ? 0 : (bubbles[bubbles.length - 1].textContent ?? '').length;
      if (length > 0 && w.__lengths.at(-1) !== length) w.__lengths.push(length);
    }).observe(history, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

export async function streamingLengths(page: Page): Promise<number[]> {
  return page.evaluate(() => (globalThis as any).__lengths as number[]);
}
