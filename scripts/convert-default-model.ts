/**
 * Builds the embedded default model, models/stories260K, from the llama2.c files in
 * ../shared/fixtures/stories260K with the project's own converter:
 *   npm run convert-default-model [-- SOURCE_DIR OUT_DIR]
 * The output is committed; test/model/default-model.test.ts re-runs this and checks the bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { convertLlama2cCheckpoint } from '../src/formats/llama2c.js';

/** Sampling defaults of llama2.c's `run` (temperature 1.0, top-p 0.9); stops at BOS as run.c does, or EOS. */
export const DEFAULT_MODEL_GENERATION_CONFIG = {
  bos_token_id: 1,
  eos_token_id: [2, 1],
  do_sample: true,
  temperature: 1.0,
  top_k: 0,
  top_p: 0.9,
  repetition_penalty: 1.0,
  max_new_tokens: 256,
};

const NOTICE = `# stories260K — the embedded default model

A 260K-parameter Llama 2 model trained on TinyStories (karpathy/tinyllamas), with its 512-token
SentencePiece vocabulary in llama2.c's \`tokenizer.bin\` format. It writes short children's stories in
English; it exists so that \`xverse generate\` works offline with no download.

Converted by xverse-ts (\`npm run convert-default-model\`) from llama2.c's \`stories260K.bin\` and
\`tok512.bin\` (sha256 b0a507e7… and 037cb335…, identical to the HF \`karpathy/tinyllamas\` files):
\`model.safetensors\` holds the same f32 weights in Hugging Face names, with the q/k rows reordered
from llama2.c's interleaved RoPE pairs to HF's rotate_half order; the classifier is tied to the
embedding. \`tokenizer.bin\` is \`tok512.bin\` unchanged. \`generation_config.json\` uses llama2.c's
sampling defaults (temperature 1.0, top-p 0.9) and stops at BOS (id 1) as llama2.c's run.c does, or
at EOS (id 2).

## Licence

MIT License

Copyright (c) 2023 Andrej

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;

export function buildDefaultModel(sourceDir: string, outDir: string): void {
  convertLlama2cCheckpoint(path.join(sourceDir, 'stories260K.bin'), outDir, {
    'generation_config.json': DEFAULT_MODEL_GENERATION_CONFIG,
  });
  // Written rather than copied so the copy does not inherit the source's read-only mode.
  fs.writeFileSync(path.join(outDir, 'tokenizer.bin'), fs.readFileSync(path.join(sourceDir, 'tok512.bin')));
  fs.writeFileSync(path.join(outDir, 'README.md'), NOTICE);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const source = process.argv[2] ?? path.resolve('../shared/fixtures/stories260K');
  const out = process.argv[3] ?? path.resolve('models/stories260K');
  buildDefaultModel(source, out);
  console.log(`wrote ${out}: ${fs.readdirSync(out).join(', ')}`);
}
