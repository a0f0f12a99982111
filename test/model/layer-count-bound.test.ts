import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { loadModel } from '../../src/model/load.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

test('a config claiming more layers than the checkpoint holds fails at once (no list of 2^31 × 9 names)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xverse-layers-'));
  try {
    const src = path.join(REPO_ROOT, 'models/stories260K');
    fs.copyFileSync(path.join(src, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 2 ** 31 - 1 }));
    const t = performance.now();
    assert.throws(() => loadModel(dir, { backend: 'typescript' }),
      (e: unknown) => e instanceof FormatError && /missing tensor "model\.layers\.5\.input_layernorm\.weight"/.test(e.message));
    assert.ok(performance.now() - t < 1000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
