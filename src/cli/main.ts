#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { describeError } from '../errors.js';
import { chatCommand } from './chat.js';
import { convertCommand } from './convert.js';
import { downloadCommand } from './download.js';
import { evalCommand } from './eval.js';
import { finetuneCommand } from './finetune.js';
import { generateCommand } from './generate.js';
import { serveCommand } from './serve.js';
import { perplexityCommand } from './perplexity.js';
import { infoCommand } from './info.js';
import { reportCommand } from './report.js';
import { tokenizeCommand } from './tokenize.js';

const program = new Command('xverse')
  .description('Run XVERSE (and Llama-shaped) language models from Node.js: generate, chat, tokenize, info, convert, download, serve, perplexity, eval, report, finetune')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(generateCommand());
program.addCommand(chatCommand());
program.addCommand(tokenizeCommand());
program.addCommand(infoCommand());
program.addCommand(convertCommand());
program.addCommand(downloadCommand());
program.addCommand(serveCommand());
program.addCommand(perplexityCommand());
program.addCommand(evalCommand());
program.addCommand(reportCommand());
program.addCommand(finetuneCommand());
for (const cmd of program.commands) cmd.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Bad input is reported in one line, never as a stack trace (set XVERSE_DEBUG=1 to see one).
  process.stderr.write(`xverse: ${describeError(err)}\n`);
  if (process.env['XVERSE_DEBUG']) console.error(err);
  process.exit(1);
}
