// A small, safe Markdown renderer for model replies and user messages.
//
// Safety rule: text never reaches an HTML parser. `parseMarkdown` turns the source into a plain
// tree of nodes whose leaves are strings, and `renderMarkdown` builds DOM elements from a fixed
// set of tag names and puts every string in with `document.createTextNode` — the DOM's own
// escaping, applied to all text before any element exists around it. There is no `innerHTML`, so
// `<script>` in a reply is shown as the characters `<script>`. Links keep only http(s) targets.
//
// Supported: ``` code fences (an unclosed fence runs to the end, so a reply being streamed renders
// sensibly), `inline code`, **bold**, *italic* / _italic_, [links](https://…), "-"/"*"/"+" and
// "1." lists, "#" headings, paragraphs (single newlines kept as line breaks).

/**
 * @typedef {{ type: 'text', text: string }
 *   | { type: 'code', text: string }
 *   | { type: 'strong' | 'em', children: Inline[] }
 *   | { type: 'link', href: string, children: Inline[] }} Inline
 * @typedef {{ type: 'codeblock', lang: string, text: string }
 *   | { type: 'paragraph', lines: Inline[][] }
 *   | { type: 'heading', level: number, children: Inline[] }
 *   | { type: 'list', ordered: boolean, items: Inline[][] }} Block
 */

const FENCE = /^\s{0,3}(```|~~~)\s*([\w+#.-]*)\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;

/** @param {string} source @returns {Block[]} */
export function parseMarkdown(source) {
  const lines = String(source).replace(/\r\n?/g, '\n').split('\n');
  /** @type {Block[]} */
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      const body = [];
      i++;
      // The closing fence must use the same marker; without one the block runs to the end.
      while (i < lines.length && !(FENCE.exec(lines[i])?.[1] === fence[1] && FENCE.exec(lines[i])?.[2] === '')) {
        body.push(lines[i++]);
      }
      i++;
      blocks.push({ type: 'codeblock', lang: fence[2], text: body.join('\n') });
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1].length, children: parseInline(heading[2]) });
      i++;
      continue;
    }
    const ordered = NUMBERED.test(line);
    if (ordered || BULLET.test(line)) {
      const pattern = ordered ? NUMBERED : BULLET;
      const items = [];
      while (i < lines.length && pattern.test(lines[i])) {
        items.push(parseInline(/** @type {RegExpExecArray} */ (pattern.exec(lines[i]))[1]));
        i++;
      }
      blocks.push({ type: 'list', ordered, items });
      continue;
    }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() !== '' && !startsBlock(lines[i])) {
      paragraph.push(parseInline(lines[i]));
      i++;
    }
    blocks.push({ type: 'paragraph', lines: paragraph });
  }
  return blocks;
}

/** @param {string} line */
function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || NUMBERED.test(line);
}

// One alternation, tried left to right at each position: code spans first (their content is
// literal), then links, bold, italic.
const INLINE = /`([^`\n]+)`|\[([^\]\n]+)\]\(([^)\s]+)\)|\*\*([^\n]+?)\*\*|\*([^*\n]+)\*|(?<![\w])_([^_\n]+)_(?![\w])/g;

/** @param {string} text @returns {Inline[]} */
export function parseInline(text) {
  /** @type {Inline[]} */
  const out = [];
  // Adjacent text pieces are merged so the tree has one text node per run of plain text.
  const pushText = (/** @type {string} */ t) => {
    const prev = out[out.length - 1];
    if (prev?.type === 'text') prev.text += t;
    else out.push({ type: 'text', text: t });
  };
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = /** @type {number} */ (m.index);
    if (at > last) pushText(text.slice(last, at));
    if (m[1] !== undefined) out.push({ type: 'code', text: m[1] });
    else if (m[2] !== undefined) {
      const href = safeHref(m[3]);
      // A link with a non-http(s) target (javascript:, data:, relative) is kept as plain text.
      if (href === null) pushText(m[0]);
      else out.push({ type: 'link', href, children: parseInline(m[2]) });
    } else if (m[4] !== undefined) out.push({ type: 'strong', children: parseInline(m[4]) });
    else out.push({ type: 'em', children: parseInline(m[5] ?? m[6]) });
    last = at + m[0].length;
  }
  if (last < text.length) pushText(text.slice(last));
  return out;
}

/** @param {string} raw @returns {string | null} the normalized URL, or null unless http(s) */
export function safeHref(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Renders Markdown source into a DocumentFragment of `doc`.
 * @param {string} source @param {Document} doc @returns {DocumentFragment}
 */
export function renderMarkdown(source, doc) {
  const fragment = doc.createDocumentFragment();
  for (const block of parseMarkdown(source)) fragment.append(renderBlock(block, doc));
  return fragment;
}

/** @param {Block} block @param {Document} doc @returns {Node} */
function renderBlock(block, doc) {
  switch (block.type) {
    case 'codeblock': {
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      if (block.lang) code.dataset.lang = block.lang;
      code.append(doc.createTextNode(block.text));
      pre.append(code);
      return pre;
    }
    case 'heading': {
      // Replies sit inside the page's own heading structure: map # to h3 … so they stay below it.
      const el = doc.createElement(`h${Math.min(6, block.level + 2)}`);
      el.append(...block.children.map((n) => renderInline(n, doc)));
      return el;
    }
    case 'list': {
      const list = doc.createElement(block.ordered ? 'ol' : 'ul');
      for (const item of block.items) {
        const li = doc.createElement('li');
        li.append(...item.map((n) => renderInline(n, doc)));
        list.append(li);
      }
      return list;
    }
    case 'paragraph': {
      const p = doc.createElement('p');
      block.lines.forEach((line, index) => {
        if (index > 0) p.append(doc.createElement('br'));
        p.append(...line.map((n) => renderInline(n, doc)));
      });
      return p;
    }
  }
  throw new Error('unknown block');
}

/** @param {Inline} node @param {Document} doc @returns {Node} */
function renderInline(node, doc) {
  switch (node.type) {
    case 'text':
      return doc.createTextNode(node.text);
    case 'code': {
      const code = doc.createElement('code');
      code.append(doc.createTextNode(node.text));
      return code;
    }
    case 'strong':
    case 'em': {
      const el = doc.createElement(node.type);
      el.append(...node.children.map((n) => renderInline(n, doc)));
      return el;
    }
    case 'link': {
      const a = doc.createElement('a');
      a.href = node.href;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      a.append(...node.children.map((n) => renderInline(n, doc)));
      return a;
    }
  }
  throw new Error('unknown inline');
}
