import { Command } from 'commander';
import { AutoTokenizer } from '../api/pretrained.js';

interface TokenizeFlags {
  model?: string;
  tokenizer?: string;
  json?: boolean;
  bos?: boolean;
  tokens?: boolean;
}

export function tokenizeCommand(): Command {
  return new Command('tokenize')
    .description('print the token ids of a text (no BOS unless --bos)')
    .argument('<text>', 'text to encode')
    .option('-m, --model <path>', 'model folder whose tokenizer to use (default: the embedded model)')
    .option('--tokenizer <path>', 'tokenizer file or folder (overrides --model)')
    .option('--bos', 'prepend the BOS token')
    .option('--json', 'print a JSON array of ids (with --tokens: objects with id and token)')
    .option('--tokens', 'also show each token\'s string')
    .action(async (text: string, flags: TokenizeFlags) => {
      const tokenizer = await AutoTokenizer.fromPretrained(flags.tokenizer ?? flags.model);
      // Encode without the tokenizer's own special tokens, then add BOS only when asked.
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      if (flags.bos) {
        if (tokenizer.bosTokenId === null) throw new Error('this tokenizer has no BOS token');
        ids.unshift(tokenizer.bosTokenId);
      }
      if (flags.json) {
        const out = flags.tokens ? ids.map((id) => ({ id, token: tokenizer.idToToken(id) ?? null })) : ids;
        process.stdout.write(JSON.stringify(out) + '\n');
      } else if (flags.tokens) {
        for (const id of ids) process.stdout.write(`${id}\t${JSON.stringify(tokenizer.idToToken(id) ?? '')}\n`);
      } else {
        process.stdout.write(ids.join(' ') + '\n');
      }
    });
}
