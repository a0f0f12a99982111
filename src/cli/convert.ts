import { Command, Option } from 'commander';
import { exportGguf, type GgufOutType } from '../convert/to-gguf.js';
import { ConfigError } from '../errors.js';
import type { QuantType } from '../tensor/dtype.js';

interface ConvertFlags {
  to: string;
  quantize?: QuantType;
  outtype?: GgufOutType;
  name?: string;
}

function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export function convertCommand(): Command {
  return new Command('convert')
    .description('convert a model folder to another format (GGUF for llama.cpp), tensor by tensor')
    .argument('<in>', 'model folder (config.json, safetensors weights, tokenizer.json)')
    .argument('<out>', 'output file')
    .addOption(new Option('--to <format>', 'output format').choices(['gguf']).makeOptionMandatory())
    .addOption(new Option('--quantize <type>', 'quantize the matrices (q4_0 keeps output.weight at q8_0, as llama-quantize does)').choices(['q8_0', 'q4_0']))
    .addOption(new Option('--outtype <type>', 'type of the matrices (default f16, like llama.cpp\'s converter); with --quantize, of those that cannot be quantized').choices(['f32', 'f16', 'bf16', 'q8_0']))
    .option('--name <name>', 'general.name in the GGUF (default: the model folder\'s name)')
    .action((input: string, output: string, flags: ConvertFlags) => {
      if (flags.to !== 'gguf') throw new ConfigError(`--to ${flags.to} is not supported yet`);
      const tty = process.stderr.isTTY === true;
      const started = Date.now();
      const result = exportGguf(input, output, {
        outtype: flags.outtype,
        quantize: flags.quantize,
        name: flags.name,
        onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
        onProgress: tty
          ? (p) => process.stderr.write(`\r\x1b[K[${p.index + 1}/${p.count}] ${p.name}  ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`)
          : undefined,
      });
      if (tty) process.stderr.write('\r\x1b[K');
      const types = [...new Set(result.tensors.map((t) => t.type))].join('/');
      process.stdout.write(`${output}: GGUF ${result.architecture}, ${result.tensors.length} tensors (${types}), ${formatBytes(result.bytes)}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
}
