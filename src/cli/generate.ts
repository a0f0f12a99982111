import { Command, InvalidArgumentError } from 'commander';
import type { GeneratedChunk, GenerationResult } from '../generation/generate.js';
import { addModelFlags, addSamplingFlags, formatStats, generateOptionsFromFlags, loadFromFlags, type ModelFlags, type SamplingFlags } from './options.js';

interface GenerateFlags extends ModelFlags, SamplingFlags {
  promptIds?: number[];
  json?: boolean;
  bos?: boolean;
  logprobs: number;
}

function idList(value: string): number[] {
  const ids = value.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new InvalidArgumentError(`expected comma-separated token ids such as 2,10,200, got "${value}"`);
  }
  return ids;
}

export function generateCommand(): Command {
  const cmd = new Command('generate')
    .description('continue a text prompt (streams the output); no prompt = start from BOS')
    .argument('[prompt]', 'text to continue')
    .option('--prompt-ids <ids>', 'comma-separated token ids to use as the prompt instead of text', idList)
    .option('--json', 'print one JSON object (ids, text, per-token top log-probabilities, stats) instead of streaming')
    .option('--logprobs <n>', 'with --json: top log-probabilities per token', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, got "${v}"`);
      return n;
    }, 5)
    .option('--bos', 'prepend BOS to a text prompt (default: the tokenizer\'s rule)')
    .option('--no-bos', 'do not prepend BOS to a text prompt');
  addModelFlags(cmd);
  addSamplingFlags(cmd);
  return cmd.action(async (prompt: string | undefined, flags: GenerateFlags) => {
    if (flags.promptIds && prompt !== undefined) cmd.error('error: give either a text prompt or --prompt-ids, not both');
    if (flags.promptIds && flags.bos !== undefined) cmd.error('error: --bos/--no-bos apply to a text prompt, not to --prompt-ids');
    const { model, tokenizer } = await loadFromFlags(flags);
    let promptIds: number[];
    if (flags.promptIds) {
      promptIds = flags.promptIds;
    } else {
      const text = prompt ?? '';
      promptIds = tokenizer.encode(text, flags.bos === undefined ? {} : { addSpecialTokens: flags.bos });
      // An empty text prompt means "start from BOS", as llama2.c's run does.
      if (promptIds.length === 0 && tokenizer.bosTokenId !== null) promptIds = [tokenizer.bosTokenId];
    }
    const options = generateOptionsFromFlags(flags);
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.on('SIGINT', onSigint);
    try {
      const run = model.generateStream(tokenizer, promptIds, {
        ...options,
        signal: controller.signal,
        ...(flags.json ? { topLogprobs: flags.logprobs } : {}),
      });
      let result: GenerationResult;
      const chunks: GeneratedChunk[] = [];
      if (!flags.json) process.stdout.write(tokenizer.decode(promptIds, { skipSpecialTokens: true }));
      for (;;) {
        const step = await run.next();
        if (step.done) {
          result = step.value;
          break;
        }
        if (flags.json) chunks.push(step.value);
        else if (step.value.text) process.stdout.write(step.value.text);
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify({
          prompt_ids: result.promptIds,
          ids: result.ids,
          text: result.text,
          finish_reason: result.finishReason,
          tokens: chunks.map((c) => ({
            id: c.id,
            text: c.text,
            logprob: c.logprob,
            top_logprobs: c.topLogprobs?.map((t) => ({ id: t.id, logprob: t.logprob })),
          })),
          stats: result.stats,
        }) + '\n');
      } else {
        process.stdout.write('\n');
      }
      if (flags.verbose) process.stderr.write(`[${result.finishReason}] ${formatStats(result.stats)}\n`);
    } finally {
      process.off('SIGINT', onSigint);
    }
  });
}
