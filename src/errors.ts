/**
 * Typed errors. Every error the library raises on bad input is one of these, with a one-line
 * message that names the file, tensor or field at fault; the CLI prints `message` and exits.
 */
export class XverseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    // Messages quote names and values from untrusted files, which may hold line breaks: keep one line.
    super(message.replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' '), options);
    this.name = new.target.name;
  }
}

/** A model, weight or tokenizer file is malformed, truncated or inconsistent. */
export class FormatError extends XverseError {}

/** config.json / generation_config.json is missing a field or holds an unusable value. */
export class ConfigError extends XverseError {}

/** Text cannot be encoded or ids cannot be decoded. */
export class TokenizerError extends XverseError {}

/** A chat history that XVERSE's prompt builders refuse (unknown role, misplaced system message…). */
export class ChatError extends XverseError {}

/** Invalid generation options (negative temperature, top_p outside (0, 1], …). */
export class GenerationError extends XverseError {}

/** A requested compute backend cannot be used (e.g. the native addon is not built). */
export class BackendError extends XverseError {}

/** The machine lacks the memory (or other resource) a request needs. */
export class ResourceError extends XverseError {}

/**
 * A Hugging Face Hub download failed: the network, an HTTP status (401/403/404 …), a file that does
 * not verify, a cache that cannot be written, or a file missing from the cache in offline mode.
 */
export class HubError extends XverseError {}

/** The Hub could not be reached (network errors, stalls, 5xx or 429 after every retry). */
export class HubUnreachableError extends HubError {}

/** Turns any thrown value into a one-line message fit for a terminal. */
export function describeError(err: unknown): string {
  if (err instanceof XverseError) return `${err.name}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return err.message;
    return `${err.name}: ${err.message}`;
  }
  return String(err);
}

/** An evaluation data file (MMLU, C-Eval, CMMLU CSV) or a results file is malformed. */
export class DatasetError extends XverseError {}
