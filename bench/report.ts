import fs from 'node:fs';

/**
 * Replaces the section between `<!-- begin NAME -->` and `<!-- end NAME -->` in a Markdown file (or
 * appends it), so several benchmark scripts can share BENCHMARKS.md without erasing each other.
 */
export function writeSection(file: string, name: string, body: string): void {
  const begin = `<!-- begin ${name} -->`;
  const end = `<!-- end ${name} -->`;
  const block = `${begin}\n${body.trim()}\n${end}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, text);
}

export function table(header: string[], rows: string[][], align: Array<'l' | 'r'> = []): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
