import fs from 'node:fs';

/**
 * Whether `file` names a GGUF file: a path ending in `.gguf` that is not a folder (a missing one
 * counts, so that opening it reports the missing file), or a file that starts with the magic "GGUF".
 */
export function isGgufPath(file: string): boolean {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (file.toLowerCase().endsWith('.gguf')) return !stat?.isDirectory();
  if (!stat?.isFile()) return false;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4);
    return fs.readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'GGUF';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
