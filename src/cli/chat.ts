import readline from 'node:readline';
import { Command } from 'commander';
import type { ChatFormat } from '../chat/format.js';
import type { ChatMessage } from '../chat/messages.js';
import { ChatError, describeError } from '../errors.js';
import type { GenerationResult } from '../generation/generate.js';
import { addModelFlags, addSamplingFlags, chatFormatArg, formatStats, generateOptionsFromFlags, loadFromFlags, type ModelFlags, type SamplingFlags } from './options.js';

interface ChatFlags extends ModelFlags, SamplingFlags {
  system?: string;
  chatFormat?: ChatFormat;
}

const HELP = `commands: /reset (new conversation), /system TEXT (set the system message and start over),
/exec TEXT (send a tool result as an "exec" message), /exit (or Ctrl-D); Ctrl-C stops a reply`;

/**
 * The interactive loop. Lines come from a readline interface (a terminal or piped stdin), replies
 * stream to stdout. Ctrl-C while a reply streams aborts that reply only; the partial reply stays in
 * the history, as in XVERSE's web demo. The KV cache is kept across turns so that each turn only
 * computes the tokens the history gained.
 */
export function chatCommand(): Command {
  const cmd = new Command('chat')
    .description('interactive multi-turn chat with a chat model (streams replies)')
    .option('--system <text>', 'system message for the conversation (XVERSE v2 format)')
    .option('--chat-format <v1|v2>', 'prompt format (default: detected from the model folder)', chatFormatArg);
  addModelFlags(cmd);
  addSamplingFlags(cmd);
  return cmd.action(async (flags: ChatFlags) => {
    const { model, tokenizer } = await loadFromFlags(flags);
    if (flags.system && model.chatFormat === 'v1') cmd.error('error: --system needs the v2 chat format; this model uses v1 (XVERSE-13B-Chat has no system role)');
    const options = generateOptionsFromFlags(flags);
    const cache = model.createCache();
    const interactive = Boolean(process.stdin.isTTY);
    let system = flags.system ?? '';
    let history: ChatMessage[] = [];
    let current: AbortController | null = null;

    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
    const onInterrupt = () => {
      if (current) current.abort();
      else if (interactive) process.stdout.write('\n(Ctrl-C stops a reply; type /exit or press Ctrl-D to quit)\n> ');
      else rl.close();
    };
    rl.on('SIGINT', onInterrupt);
    process.on('SIGINT', onInterrupt);

    if (interactive) {
      process.stdout.write(`xverse chat — ${model.path} (${model.chatFormat} format; ${model.chatFormatReason})\n${HELP}\n`);
    }
    const prompt = () => { if (interactive) rl.prompt(); };
    rl.setPrompt('> ');
    prompt();

    const reply = async (message: ChatMessage): Promise<void> => {
      const messages: ChatMessage[] = [...(history.length === 0 && system ? [{ role: 'system' as const, content: system }] : []), ...history, message];
      current = new AbortController();
      let text = '';
      let result: GenerationResult | undefined;
      try {
        const run = model.chat(tokenizer, messages, { ...options, stream: true, cache, signal: current.signal });
        for (;;) {
          const step = await run.next();
          if (step.done) {
            result = step.value;
            break;
          }
          text += step.value;
          process.stdout.write(step.value);
        }
        process.stdout.write('\n');
        history = [...messages, { role: 'assistant', content: text }];
        if (result.finishReason === 'abort') process.stdout.write('[stopped]\n');
        if (flags.verbose) process.stderr.write(`[${result.finishReason}] ${formatStats(result.stats)}\n`);
      } finally {
        current = null;
      }
    };

    for await (const raw of rl) {
      const line = raw.trim();
      // "/command argument": the command is the first word, so "/systemfoo" is not "/system".
      const [command = '', ...words] = line.startsWith('/') ? line.split(/\s+/) : [];
      const argument = line.slice(command.length).trim();
      try {
        if (line === '') {
          // nothing to send
        } else if (command === '') {
          await reply({ role: 'user', content: raw });
        } else if (command === '/exit' || command === '/quit') {
          break;
        } else if (command === '/help') {
          process.stdout.write(HELP + '\n');
        } else if (command === '/reset') {
          history = [];
          process.stdout.write('(new conversation)\n');
        } else if (command === '/system') {
          if (model.chatFormat === 'v1') throw new ChatError('the v1 chat format has no system role');
          system = argument;
          history = [];
          process.stdout.write(system ? '(system message set; new conversation)\n' : '(system message cleared; new conversation)\n');
        } else if (command === '/exec' && words.length > 0) {
          await reply({ role: 'exec', content: argument });
        } else {
          process.stdout.write(`unknown command ${command}; ${HELP}\n`);
        }
      } catch (err) {
        // A bad turn (e.g. a message the format cannot hold) is reported; the conversation goes on.
        process.stderr.write(`error: ${describeError(err)}\n`);
      }
      prompt();
    }
    rl.close();
    process.off('SIGINT', onInterrupt);
  });
}
