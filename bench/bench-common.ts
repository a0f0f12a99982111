/** Shared pieces of the benchmark: what is measured and how results look. */

export const BENCH_SHAPE = {
  /** Prompt lengths whose prefill speed is measured. */
  prefillLengths: [64, 512],
  /** Tokens in the context before decoding starts, and tokens decoded. */
  decodeContext: 64,
  decodeTokens: 32,
} as const;

export interface EngineResult {
  engine: 'xverse-ts' | 'llama.cpp';
  loadMs: number;
  peakRssBytes: number;
  /** Keyed by prompt length. */
  prefillTokensPerSecond: Record<number, number>;
  decodeTokensPerSecond: number;
  /** Backend/ISA description. */
  detail: string;
  /** Read bandwidth measured in this process right before and after decoding (mean, GB/s), where the engine can measure it. */
  readBandwidth?: number;
}

/** Deterministic token ids well inside the vocabulary (past the special and byte tokens). */
export function syntheticPrompt(length: number, seed: number, vocabSize = 100534): number[] {
  const out: number[] = [];
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push(300 + ((x >>> 0) % (vocabSize - 300)));
  }
  return out;
}

/** `--key value` pairs and bare `--flag`s. */
export function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(a.slice(2), next);
      i++;
    } else {
      out.set(a.slice(2), 'true');
    }
  }
  return out;
}
