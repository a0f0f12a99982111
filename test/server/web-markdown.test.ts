import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { WEB_ASSET_DIR } from '../../src/server/web-ui.js';

// The page's Markdown parser is plain browser JavaScript with no DOM use in its parsing half, so
// it is tested here directly (rendering to DOM is covered by the browser tests).
const markdown = (await import(pathToFileURL(path.join(WEB_ASSET_DIR, 'markdown.js')).href)) as {
  parseMarkdown(source: string): unknown[];
  parseInline(text: string): unknown[];
  safeHref(raw: string): string | null;
};
const text = (t: string) => ({ type: 'text', text: t });

describe('web UI markdown parser', () => {
  test('inline code, bold, italic and http(s) links; their contents stay strings', () => {
    assert.deepEqual(markdown.parseInline('a `<b>` **bold _it_** *em* [x](https://e.com/a?b=1)'), [
      text('a '),
      { type: 'code', text: '<b>' },
      text(' '),
      { type: 'strong', children: [text('bold '), { type: 'em', children: [text('it')] }] },
      text(' '),
      { type: 'em', children: [text('em')] },
      text(' '),
      { type: 'link', href: 'https://e.com/a?b=1', children: [text('x')] },
    ]);
  });

  test('links to anything but http(s) stay text', () => {
    for (const href of ['javascript:alert(1)', 'data:text/html,<script>', 'vbscript:x', '/relative', 'JaVaScRiPt:alert(1)']) {
      assert.deepEqual(markdown.parseInline(`[go](${href})`), [text(`[go](${href})`)], href);
      assert.equal(markdown.safeHref(href), null, href);
    }
    assert.equal(markdown.safeHref('http://example.com'), 'http://example.com/');
  });

  test('HTML is never special: it comes out as text', () => {
    assert.deepEqual(markdown.parseMarkdown('<script>alert(1)</script>'), [
      { type: 'paragraph', lines: [[text('<script>alert(1)</script>')]] },
    ]);
  });

  test('blocks: fences (closed or still streaming), lists, headings, paragraphs with line breaks', () => {
    const source = '# Title\n\nline one\nline two\n\n- a\n- **b**\n\n1. x\n2. y\n\n```js\nif (a < b) {}\n```\nafter\n\n```\nopen';
    assert.deepEqual(markdown.parseMarkdown(source), [
      { type: 'heading', level: 1, children: [text('Title')] },
      { type: 'paragraph', lines: [[text('line one')], [text('line two')]] },
      { type: 'list', ordered: false, items: [[text('a')], [{ type: 'strong', children: [text('b')] }]] },
      { type: 'list', ordered: true, items: [[text('x')], [text('y')]] },
      { type: 'codeblock', lang: 'js', text: 'if (a < b) {}' },
      { type: 'paragraph', lines: [[text('after')]] },
      { type: 'codeblock', lang: '', text: 'open' },
    ]);
  });

  test('snake_case words are not italic', () => {
    assert.deepEqual(markdown.parseInline('max_new_tokens and top_p'), [text('max_new_tokens and top_p')]);
  });
});
