import { Command } from 'commander';
import { resolveModelReference, snapshotDownload, type SnapshotOptions } from '../hub/index.js';
import { downloadProgressBars } from './download-progress.js';

interface DownloadFlags {
  revision?: string;
  include?: string[];
  cacheDir?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Runs a Hub download with progress bars on an interactive stderr, removing them however it ends. */
async function withProgress<T>(run: (options: SnapshotOptions) => Promise<T>, options: SnapshotOptions = {}): Promise<T> {
  const display = downloadProgressBars();
  try {
    return await run(display ? { ...options, onProgress: display.onProgress } : options);
  } finally {
    display?.stop();
  }
}

/** `--model` / `--tokenizer`: a local path as it is, a Hub repo id resolved (downloaded if needed) to its snapshot folder. */
export function resolveModelFlag(ref: string): Promise<string> {
  return withProgress((options) => resolveModelReference(ref, options));
}

export function downloadCommand(): Command {
  return new Command('download')
    .description('download a model from the Hugging Face Hub into the shared cache and print its folder')
    .argument('<repo-id>', 'model repository, e.g. xverse/XVERSE-7B-Chat')
    .option('--revision <rev>', 'branch, tag or commit hash', 'main')
    .option('--include <glob>', 'only files matching this glob (repeatable; default: config, tokenizer and weights — *.json *.safetensors tokenizer* *.model *.txt *.tiktoken, pytorch_model*.bin when there are no safetensors)', collect)
    .option('--cache-dir <dir>', 'cache root (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)')
    .action(async (repoId: string, flags: DownloadFlags) => {
      const dir = await withProgress((options) => snapshotDownload(repoId, options), {
        ...(flags.revision !== undefined ? { revision: flags.revision } : {}),
        ...(flags.include !== undefined ? { include: flags.include } : {}),
        ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
      });
      process.stdout.write(`${dir}\n`);
    });
}
