import { Command } from 'commander';
import { XverseError } from '../errors.js';
import { readBoundedText } from '../formats/file-io.js';
import { computePerplexity, type PerplexityResult } from '../eval/perplexity.js';
import { addModelFlags, integerArg, loadFromFlags, type ModelFlags } from './options.js';

interface PerplexityFlags extends ModelFlags {
  file: string;
  ctx?: number;
  stride?: number;
  bos?: boolean;
  json?: boolean;
}

/** Largest text file `xverse perplexity` reads. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** One line for the terminal: `perplexity 1.6055 over 200 tokens (1 window of 512, stride 512) in 0.07 s (2857 tok/s)`. */
export function formatPerplexity(r: PerplexityResult): string {
  const rate = r.seconds > 0 ? Math.round(r.tokens / r.seconds) : Infinity;
  return `perplexity ${r.perplexity.toFixed(4)} over ${r.tokens} tokens ` +
    `(${r.windows} window${r.windows === 1 ? '' : 's'} of ${r.ctx}, stride ${r.stride}) ` +
    `in ${r.seconds.toFixed(r.seconds < 10 ? 2 : 1)} s (${Number.isFinite(rate) ? rate : '–'} tok/s)`;
}

export function perplexityCommand(): Command {
  const cmd = new Command('perplexity')
    .description('perplexity of a text file under the model, with a sliding window (Hugging Face\'s fixed-length rule)')
    .requiredOption('--file <path>', 'UTF-8 text file to score (at most 64 MiB)')
    .option('--ctx <n>', 'window length in tokens (default: the model\'s context length)', integerArg(2))
    .option('--stride <n>', 'how far each window\'s start advances (default: ctx, i.e. disjoint windows)', integerArg(1))
    .option('--bos', 'prepend BOS to the text (default: the tokenizer\'s rule)')
    .option('--no-bos', 'do not prepend BOS to the text')
    .option('--json', 'print one JSON object (perplexity, nll, tokens, windows, ctx, stride, seconds, model, file)');
  addModelFlags(cmd);
  return cmd.action(async (flags: PerplexityFlags) => {
    const text = readBoundedText(flags.file, MAX_FILE_BYTES, (message) => new XverseError(message));
    const { model, tokenizer } = await loadFromFlags(flags);
    const ids = tokenizer.encode(text, flags.bos === undefined ? {} : { addSpecialTokens: flags.bos });
    const progress = process.stderr.isTTY === true;
    const result = computePerplexity(model.model, ids, {
      ...(flags.ctx !== undefined ? { ctx: flags.ctx } : {}),
      ...(flags.stride !== undefined ? { stride: flags.stride } : {}),
      ...(progress ? { onProgress: (scored: number, total: number) => process.stderr.write(`\r\x1b[Kscoring ${scored}/${total} tokens`) } : {}),
    });
    if (progress) process.stderr.write('\r\x1b[K');
    if (flags.json) {
      process.stdout.write(JSON.stringify({ ...result, model: model.path, file: flags.file }) + '\n');
    } else {
      process.stdout.write(formatPerplexity(result) + '\n');
    }
  });
}
