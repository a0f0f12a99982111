/**
 * Which repo files a download takes by default: what loading a model needs — configs and indexes
 * (`*.json`), safetensors weights, tokenizer files (`tokenizer*`, SentencePiece `*.model`,
 * `*.txt` vocabularies / merges, `*.tiktoken`) — plus `pytorch_model*.bin` when the repo has no
 * safetensors weights (transformers prefers safetensors; taking both would double the download).
 * GGUF files, ONNX exports, `*.pth` originals and the like are taken only when included explicitly.
 */
export const DEFAULT_INCLUDE: readonly string[] = ['*.json', '*.safetensors', 'tokenizer*', '*.model', '*.txt', '*.tiktoken'];
export const PYTORCH_BIN_PATTERN = 'pytorch_model*.bin';

/**
 * fnmatch-style matching as huggingface_hub's allow_patterns use it: `*` matches any run of
 * characters (`/` included), `?` one character, `[abc]` / `[!abc]` a set; a pattern ending in `/`
 * matches everything under that folder.
 */
export function globToRegExp(pattern: string): RegExp {
  const p = pattern.endsWith('/') ? `${pattern}*` : pattern;
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let set = p.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      out += `[${set}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

export function matchesAny(file: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => globToRegExp(p).test(file));
}

/** The files to download: those matching `include`, else the default set above. */
export function selectFiles<T extends { path: string }>(files: readonly T[], include?: readonly string[]): T[] {
  if (include !== undefined && include.length > 0) return files.filter((f) => matchesAny(f.path, include));
  const hasSafetensors = files.some((f) => f.path.endsWith('.safetensors'));
  const patterns = hasSafetensors ? DEFAULT_INCLUDE : [...DEFAULT_INCLUDE, PYTORCH_BIN_PATTERN];
  return files.filter((f) => matchesAny(f.path, patterns));
}
