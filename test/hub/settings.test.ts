import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isSafeRepoPath } from '../../src/hub/api.js';
import { globToRegExp, selectFiles } from '../../src/hub/include.js';
import { looksLikeRepoId, repoFolderName, validateRepoId } from '../../src/hub/repo-id.js';
import { hubSettings } from '../../src/hub/settings.js';
import { tempDir } from '../helpers/fixtures.js';

describe('hub settings from the environment (as huggingface_hub reads them)', () => {
  it('resolves the cache root: HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME > ~/.cache', () => {
    assert.equal(hubSettings({ HOME: '/h' }).cacheDir, '/h/.cache/huggingface/hub');
    assert.equal(hubSettings({ HOME: '/h', XDG_CACHE_HOME: '/x' }).cacheDir, '/x/huggingface/hub');
    assert.equal(hubSettings({ HOME: '/h', XDG_CACHE_HOME: '/x', HF_HOME: '~/hf' }).cacheDir, '/h/hf/hub');
    assert.equal(hubSettings({ HOME: '/h', HF_HOME: '/a', HUGGINGFACE_HUB_CACHE: '/legacy' }).cacheDir, '/legacy');
    assert.equal(hubSettings({ HOME: '/h', HF_HOME: '/a', HUGGINGFACE_HUB_CACHE: '/legacy', HF_HUB_CACHE: '$HOME/c' }).cacheDir, '/h/c');
    assert.equal(hubSettings({ HOME: '/h', HF_HUB_CACHE: '${NOPE}/c' }).cacheDir, '${NOPE}/c', 'unknown variables stay');
  });

  it('reads the endpoint, offline flag, timeout and token', () => {
    const s = hubSettings({ HOME: '/nonexistent', HF_ENDPOINT: 'https://mirror.example/' });
    assert.equal(s.endpoint, 'https://mirror.example');
    assert.equal(hubSettings({ HOME: '/nonexistent' }).endpoint, 'https://huggingface.co');
    assert.equal(s.token, null);
    assert.equal(s.offline, false);
    for (const v of ['1', 'on', 'YES', 'True']) assert.equal(hubSettings({ HOME: '/n', HF_HUB_OFFLINE: v }).offline, true, v);
    for (const v of ['0', 'no', '']) assert.equal(hubSettings({ HOME: '/n', HF_HUB_OFFLINE: v }).offline, false, v);
    assert.equal(hubSettings({ HOME: '/n', TRANSFORMERS_OFFLINE: '1' }).offline, true);
    assert.equal(hubSettings({ HOME: '/n', HF_HUB_DOWNLOAD_TIMEOUT: '3' }).timeoutMs, 3000);
    assert.equal(hubSettings({ HOME: '/n', HF_TOKEN: 'a', HUGGING_FACE_HUB_TOKEN: 'b' }).token, 'a');
    assert.equal(hubSettings({ HOME: '/n', HUGGING_FACE_HUB_TOKEN: 'b' }).token, 'b');
    const home = tempDir();
    fs.writeFileSync(path.join(home, 'token'), 'hf_stored\n');
    assert.equal(hubSettings({ HF_HOME: home }).token, 'hf_stored', 'the token `huggingface-cli login` saved');
    assert.equal(hubSettings({ HF_HOME: home, HF_TOKEN: '' }).token, 'hf_stored', 'an empty HF_TOKEN is unset');
  });
});

describe('repo ids, cache names and paths', () => {
  it('tells repo ids from paths and validates them as the Hub does', () => {
    assert.ok(looksLikeRepoId('xverse/XVERSE-7B-Chat'));
    for (const s of ['./a/b', '/a/b', 'a/b/c', 'model', 'a b/c']) assert.ok(!looksLikeRepoId(s), s);
    assert.equal(repoFolderName('xverse/XVERSE-7B-Chat'), 'models--xverse--XVERSE-7B-Chat');
    validateRepoId('xverse/XVERSE-13B-2');
    for (const bad of ['a--b/c', 'a/b..c', '-a/b', 'a/b.', `a/${'x'.repeat(100)}`]) assert.throws(() => validateRepoId(bad), /not a valid/, bad);
  });

  it('refuses file names from the server that would leave the snapshot folder', () => {
    assert.ok(isSafeRepoPath('sub/dir/file.json'));
    for (const p of ['../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a//b', './a', '']) assert.ok(!isSafeRepoPath(p), p);
  });
});

describe('include globs', () => {
  const files = ['config.json', 'model-00001-of-00002.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'tokenizer.json',
    'tokenizer.model', 'tokenizer_config.json', 'x.gguf', 'README.md', 'onnx/model.onnx', 'training_args.bin'].map((p) => ({ path: p }));
  const paths = (xs: { path: string }[]) => xs.map((x) => x.path);

  it('defaults to what a model needs, preferring safetensors over .bin weights', () => {
    assert.deepEqual(paths(selectFiles(files)), ['config.json', 'model-00001-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json']);
    const binOnly = files.filter((f) => !f.path.includes('safetensors'));
    assert.deepEqual(paths(selectFiles(binOnly)), ['config.json', 'pytorch_model.bin', 'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json']);
  });

  it('matches fnmatch-style patterns (* crosses folders, ?, [set], folder/)', () => {
    assert.deepEqual(paths(selectFiles(files, ['*.gguf', 'onnx/'])), ['x.gguf', 'onnx/model.onnx']);
    assert.ok(globToRegExp('*.onnx').test('onnx/model.onnx'));
    assert.ok(globToRegExp('model-0000?-of-*.safetensors').test('model-00001-of-00002.safetensors'));
    assert.ok(globToRegExp('[!t]*.bin').test('pytorch_model.bin'));
    assert.ok(!globToRegExp('[!t]*.bin').test('training_args.bin'));
    assert.ok(!globToRegExp('config.json').test('configXjson'));
  });
});
