import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/api/pretrained.js';
import type { DownloadProgress } from '../../src/hub/index.js';
import { resolveModelReference } from '../../src/hub/index.js';
import { REPO_ROOT, tempDir } from '../helpers/fixtures.js';
import { FakeHub } from './fake-hub.js';

const LOCAL_MODEL = path.join(REPO_ROOT, 'models/stories260K');

let hub: FakeHub;
before(async () => {
  hub = await FakeHub.start();
  hub.addFolder('karpathy/stories260K', LOCAL_MODEL);
});
after(() => hub.close());

describe('fromPretrained with a repo id', () => {
  it('downloads into the cache (reporting progress) and loads the same model and tokenizer', async () => {
    const home = tempDir('xverse-hub-api-');
    const events: DownloadProgress[] = [];
    const hubOptions = { env: { HF_HOME: home, HF_ENDPOINT: hub.endpoint }, onProgress: (p: DownloadProgress) => events.push(p) };
    const model = await AutoModelForCausalLM.fromPretrained('karpathy/stories260K', { backend: 'typescript', hub: hubOptions });
    const tokenizer = await AutoTokenizer.fromPretrained('karpathy/stories260K', { hub: hubOptions });
    assert.equal(model.path, path.join(home, 'hub', 'models--karpathy--stories260K', 'snapshots', hub.commit('karpathy/stories260K')));
    assert.ok(events.some((e) => e.state === 'done') && events.some((e) => e.state === 'cached'), 'the tokenizer call found everything cached');

    const localModel = await AutoModelForCausalLM.fromPretrained(LOCAL_MODEL, { backend: 'typescript' });
    const localTokenizer = await AutoTokenizer.fromPretrained(LOCAL_MODEL);
    const options = { maxNewTokens: 8, doSample: false };
    const remote = await model.generate(tokenizer, 'Once upon a time', options);
    const local = await localModel.generate(localTokenizer, 'Once upon a time', options);
    assert.deepEqual(remote.ids, local.ids);
  });

  it('an existing local path wins over a repo id of the same shape', async () => {
    const dir = tempDir('xverse-hub-local-');
    fs.mkdirSync(path.join(dir, 'org', 'name'), { recursive: true });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      hub.log.length = 0;
      assert.equal(await resolveModelReference('org/name', { env: { HF_ENDPOINT: hub.endpoint, HF_HOME: dir } }), 'org/name');
      assert.equal(hub.log.length, 0);
    } finally {
      process.chdir(cwd);
    }
  });
});
