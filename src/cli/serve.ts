import { Command } from 'commander';
import { createServer } from '../server/app.js';
import { addModelFlags, chatFormatArg, integerArg, loadFromFlags, type ModelFlags } from './options.js';
import type { ChatFormat } from '../chat/format.js';

interface ServeFlags extends ModelFlags {
  host: string;
  port: number;
  title?: string;
  concurrency: number;
  maxQueued: number;
  apiKey?: string;
  servedModelName?: string;
  debug?: boolean;
  chatFormat?: ChatFormat;
}

/**
 * `xverse serve`: the OpenAI-compatible API and the web chat in one process, like XVERSE's
 * chat_demo.py (port 36000, 4 concurrent generations) but on loopback unless --host says otherwise.
 */
export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('serve the OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models) and the web chat')
    .option('--host <host>', 'address to listen on (0.0.0.0 = every interface)', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', integerArg(0), 36000)
    .option('--title <text>', 'web UI title (default: the model name)')
    .option('--concurrency <n>', 'generations running at once, interleaved token by token; more wait in FIFO order', integerArg(1), 4)
    .option('--max-queued <n>', 'requests that may wait for a slot; beyond that the answer is 503', integerArg(0), 64)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" on /v1/* (default: $XVERSE_API_KEY, else no auth)')
    .option('--served-model-name <name>', 'model id in the API (default: the model folder or file name)')
    .option('--chat-format <v1|v2>', 'prompt format (default: detected from the model folder)', chatFormatArg)
    .option('--debug', 'enable /debug/last-prompt and /debug/stats');
  addModelFlags(cmd);
  return cmd.action(async (flags: ServeFlags) => {
    const { model, tokenizer } = await loadFromFlags(flags);
    const apiKey = flags.apiKey ?? process.env['XVERSE_API_KEY'];
    const server = await createServer({
      model,
      tokenizer,
      ...(flags.servedModelName !== undefined ? { modelId: flags.servedModelName } : {}),
      ...(flags.title !== undefined ? { title: flags.title } : {}),
      ...(apiKey ? { apiKey } : {}),
      concurrency: flags.concurrency,
      maxQueued: flags.maxQueued,
      debug: flags.debug === true,
    });
    const url = await server.listen({ host: flags.host, port: flags.port });
    process.stdout.write(`xverse serve: ${server.modelId} at ${url}/ (API: ${url}/v1)${apiKey ? ' — API key required' : ''}\n`);
    let stopping = false;
    const stop = (signal: string) => {
      // A second Ctrl-C while waiting for generations to finish exits at once.
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`xverse serve: ${signal}: shutting down (in-flight generations get 5 s to finish)\n`);
      server.close(5000).then(() => process.exit(0), () => process.exit(1));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
