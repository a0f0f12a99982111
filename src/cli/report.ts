import { Command } from 'commander';
import { writeFileAtomic } from '../formats/file-io.js';
import { renderReport } from '../eval/report.js';
import { readResults } from '../eval/runner.js';

export function reportCommand(): Command {
  return new Command('report')
    .description('render results of `xverse eval` runs as XVERSE\'s results table (dataset | shots | score per model)')
    .argument('<results...>', 'results .json files written by xverse eval')
    .option('--published', 'add columns with XVERSE-13B\'s and XVERSE-13B-2\'s published scores')
    .option('--out <file>', 'also write the table to this Markdown file')
    .action((files: string[], flags: { published?: boolean; out?: string }) => {
      const table = renderReport(files.map((file) => ({ file, results: readResults(file) })), { published: flags.published === true });
      process.stdout.write(table);
      if (flags.out) writeFileAtomic(flags.out, table);
    });
}
