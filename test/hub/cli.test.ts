import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT, tempDir } from '../helpers/fixtures.js';
import { FakeHub } from './fake-hub.js';

const LOCAL_MODEL = path.join(REPO_ROOT, 'models/stories260K');
const PROMPT = ['--greedy', '-n', '8', 'Once upon a time'];

let hub: FakeHub;
before(async () => {
  hub = await FakeHub.start();
  hub.addFolder('karpathy/stories260K', LOCAL_MODEL);
});
after(() => hub.close());

/** The CLI's environment: the fake Hub, a temp HF_HOME, and none of the developer's own Hub settings. */
function hubEnv(home: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    HF_ENDPOINT: hub.endpoint, HF_HOME: home, HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined,
    HF_TOKEN: undefined, HUGGING_FACE_HUB_TOKEN: undefined, HF_TOKEN_PATH: undefined, HF_HUB_OFFLINE: undefined, TRANSFORMERS_OFFLINE: undefined,
    ...extra,
  };
}

describe('xverse with a Hugging Face repo id', () => {
  it('generate --model org/name downloads the model and writes what the local folder writes', async () => {
    const home = tempDir('xverse-hub-cli-');
    const local = await runCli(['generate', ...PROMPT]);
    assert.equal(local.code, 0, local.stderr);
    const remote = await runCli(['generate', '--model', 'karpathy/stories260K', ...PROMPT], '', hubEnv(home));
    assert.equal(remote.code, 0, remote.stderr);
    assert.ok(local.stdout.length > 'Once upon a time'.length);
    assert.equal(remote.stdout, local.stdout);
    assert.equal(remote.stderr.includes('\x1b['), false, 'no progress bars when stderr is not a terminal');
    const snapshot = path.join(home, 'hub', 'models--karpathy--stories260K', 'snapshots', hub.commit('karpathy/stories260K'));
    assert.deepEqual(fs.readdirSync(snapshot).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.bin']);

    // Offline, the same command runs from the cache.
    hub.log.length = 0;
    const offline = await runCli(['generate', '--model', 'karpathy/stories260K', ...PROMPT], '', hubEnv(home, { HF_HUB_OFFLINE: '1' }));
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(offline.stdout, local.stdout);
    assert.equal(hub.log.length, 0);

    // info --model takes a repo id too (from the cache, offline).
    const info = await runCli(['info', '--json', '--model', 'karpathy/stories260K'], '', hubEnv(home, { HF_HUB_OFFLINE: '1' }));
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).model.path, snapshot);
  });

  it('xverse download prints the snapshot folder; errors are one line', async () => {
    const home = tempDir('xverse-hub-cli-');
    const cacheDir = path.join(home, 'elsewhere');
    const r = await runCli(['download', 'karpathy/stories260K', '--include', '*.json', '--cache-dir', cacheDir], '', hubEnv(home));
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    assert.equal(dir, path.join(cacheDir, 'models--karpathy--stories260K', 'snapshots', hub.commit('karpathy/stories260K')));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'generation_config.json']);

    const missing = await runCli(['download', 'karpathy/nothing'], '', hubEnv(home));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^xverse: HubError: karpathy\/nothing \(revision main\): repository not found \(HTTP 404\)/);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });
});
