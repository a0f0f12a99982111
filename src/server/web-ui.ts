import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The browser pages are plain ES modules and CSS kept in `src/server/web/` (tsc does not compile
 * them: no allowJs). Compiled code runs from `dist/src/server/`, and the published package ships
 * `src/server/web` (package.json `files`), so the folder is found from the package root in both
 * the checkout and an installed copy — no build step has to copy anything.
 */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const WEB_ASSET_DIR = path.join(PACKAGE_ROOT, 'src', 'server', 'web');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The pages load nothing from other origins (offline by design), so a strict policy costs nothing
 * and blocks any script that markup injection might still smuggle in.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface WebUiOptions {
  /** Shown as the page title and heading (XVERSE's chat_demo `--title`). */
  readonly title: string;
}

/**
 * Serves the chat page at `/`, the text-generation page at `/generate` and their files at
 * `/assets/*`. The pages are clients of the OpenAI-compatible API only (`/v1/...`), so they work
 * against any server that implements it.
 */
export async function registerWebUi(app: FastifyInstance, options: WebUiOptions): Promise<void> {
  // Read once at start-up: the pages are small and this makes a missing asset folder fail loudly
  // when the server starts, not on the first request.
  const chatPage = await renderPage('chat.html', options.title);
  const generatePage = await renderPage('generate.html', options.title);
  const assets = new Map<string, Buffer>();
  for (const name of ['chat.js', 'generate.js', 'markdown.js', 'sse.js', 'sampling.js', 'auth.js', 'style.css']) {
    assets.set(name, await readFile(path.join(WEB_ASSET_DIR, name)));
  }

  const sendHtml = (reply: FastifyReply, html: string): FastifyReply =>
    reply.header('content-security-policy', CSP).type(CONTENT_TYPES['.html'] as string).send(html);

  app.get('/', async (_request, reply) => sendHtml(reply, chatPage));
  app.get('/generate', async (_request, reply) => sendHtml(reply, generatePage));
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    // A fixed allow-list of file names: no path from the URL ever reaches the file system.
    const body = assets.get(request.params.name);
    if (body === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    const type = CONTENT_TYPES[path.extname(request.params.name)] ?? 'application/octet-stream';
    return reply.header('cache-control', 'no-cache').type(type).send(body);
  });
}

/** Fills the `{{title}}` placeholders, HTML-escaped (the title comes from a command-line flag). */
async function renderPage(file: string, title: string): Promise<string> {
  const template = await readFile(path.join(WEB_ASSET_DIR, file), 'utf8');
  return template.replaceAll('{{title}}', escapeHtml(title));
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
