import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HubError } from '../../src/errors.js';
import { snapshotDownload, type DownloadProgress, type SnapshotOptions } from '../../src/hub/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { FakeHub } from './fake-hub.js';

const REPO = 'org/tiny';
const WEIGHTS = randomBytes(200_000);
const FILES = {
  'config.json': '{"model_type":"llama"}',
  'tokenizer.json': '{"model":{}}',
  'model.safetensors': WEIGHTS,
  'sub/extra.json': '{"nested":true}',
  'model-Q4_0.gguf': randomBytes(1000),
  'README.md': '# tiny',
};
const DEFAULT_SET = ['config.json', 'model.safetensors', 'sub/extra.json', 'tokenizer.json'];

let hub: FakeHub;
before(async () => {
  hub = await FakeHub.start();
  hub.addRepo(REPO, FILES);
});
after(() => hub.close());

/** Options for a fresh cache under a temp HF_HOME, pointed at the fake Hub, with fast retries. */
let tempRoot: string;
function setup(env: Record<string, string> = {}): { home: string; cache: string; options: SnapshotOptions } {
  tempRoot ??= tempDir('xverse-hub-');
  const home = fs.mkdtempSync(path.join(tempRoot, 'home-'));
  return {
    home, cache: path.join(home, 'hub'),
    options: { env: { HF_HOME: home, HF_ENDPOINT: hub.endpoint, ...env }, retry: { baseDelayMs: 5, maxDelayMs: 20 }, timeoutMs: 2000 },
  };
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]).sort();
}

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<HubError> {
  const err = await p.then(() => assert.fail('expected an error'), (e: unknown) => e);
  assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes('\n'), 'one-line message');
  return err;
}

describe('snapshotDownload against a fake Hub', () => {
  it('downloads the default file set into a huggingface_hub cache layout (blobs, snapshots, refs)', async () => {
    const { cache, options } = setup({ HF_TOKEN: 'secret' });
    hub.log.length = 0;
    const events: DownloadProgress[] = [];
    const dir = await snapshotDownload(REPO, { ...options, onProgress: (p) => events.push(p) });
    const commit = hub.commit(REPO);
    const root = path.join(cache, 'models--org--tiny');
    assert.equal(dir, path.join(root, 'snapshots', commit));
    assert.equal(fs.readFileSync(path.join(root, 'refs', 'main'), 'utf8'), commit);
    assert.deepEqual(listFiles(dir), DEFAULT_SET, 'gguf and README are not in the default set');
    for (const p of DEFAULT_SET) {
      const f = hub.file(REPO, p);
      const link = fs.readlinkSync(path.join(dir, p));
      const etag = f.lfs ? f.sha256 : f.gitSha1;
      assert.equal(link, path.join(p.includes('/') ? '../../..' : '../..', 'blobs', etag), `${p} is a relative link to its blob`);
      assert.deepEqual(fs.readFileSync(path.join(dir, p)), f.content);
    }
    assert.deepEqual(fs.readdirSync(path.join(root, 'blobs')).sort(), DEFAULT_SET.map((p) => hub.file(REPO, p)).map((f) => (f.lfs ? f.sha256 : f.gitSha1)).sort());
    // The token goes to the Hub, never to the CDN host the LFS redirect points at.
    assert.ok(hub.requests('hub').every((r) => r.headers.authorization === 'Bearer secret'));
    const cdn = hub.requests('cdn');
    assert.equal(cdn.length, 1);
    assert.equal(cdn[0]!.headers.authorization, undefined);
    const last = events.at(-1)!;
    assert.equal(last.filesDone, 4);
    assert.equal(last.bytes, last.totalBytes);
    assert.ok(events.some((e) => e.file === 'model.safetensors' && e.state === 'downloading'));

    // A second run finds everything in the snapshot: one model-info request, nothing downloaded.
    hub.log.length = 0;
    assert.equal(await snapshotDownload(REPO, options), dir);
    assert.deepEqual(hub.log.map((r) => r.url.split('?')[0]), [`/api/models/${REPO}/revision/main`]);
  });

  it('--include selects files by glob, GGUF only when asked', async () => {
    const { options } = setup();
    const dir = await snapshotDownload(REPO, { ...options, include: ['*.gguf', 'config.json'] });
    assert.deepEqual(listFiles(dir), ['config.json', 'model-Q4_0.gguf']);
  });

  it('resumes a download cut mid-file with a Range request', async () => {
    const { options } = setup();
    hub.log.length = 0;
    hub.cutAfter.set('model.safetensors', 70_000);
    const dir = await snapshotDownload(REPO, options);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), WEIGHTS);
    const cdn = hub.requests('cdn');
    assert.equal(cdn.length, 2);
    assert.equal(cdn[0]!.headers.range, undefined);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[1]!.headers.range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= 70_000, `second request resumes: ${cdn[1]!.headers.range}`);
  });

  it('aborts and resumes a stalled download instead of hanging', async () => {
    const { options } = setup();
    hub.log.length = 0;
    hub.stallAfter.set('model.safetensors', 50_000);
    const dir = await snapshotDownload(REPO, { ...options, timeoutMs: 300 });
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), WEIGHTS);
    assert.match(hub.requests('cdn')[1]?.headers.range ?? '', /^bytes=\d+-$/);
  });

  it('retries a 503 with backoff', async () => {
    const { options } = setup();
    hub.log.length = 0;
    hub.fail503.set('info', 2);
    hub.fail503.set('config.json', 1);
    await snapshotDownload(REPO, options);
    assert.equal(hub.log.filter((r) => r.url.startsWith('/api/')).length, 3);
    assert.equal(hub.log.filter((r) => r.url.endsWith('/config.json')).length, 3, 'HEAD 503, HEAD, GET');
  });

  it('gives up on a persistent 503 after the bounded retries, in one line', async () => {
    const { options } = setup();
    hub.fail503.set('info', 100);
    try {
      await rejectsWith(snapshotDownload(REPO, { ...options, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 1 } }), /org\/tiny.*HTTP 503.*gave up after 3 attempts/);
    } finally {
      hub.fail503.clear();
    }
  });

  it('uses the cached snapshot with a warning when the Hub cannot be reached (not for a repo never downloaded)', async () => {
    const { options } = setup();
    const dir = await snapshotDownload(REPO, options);
    hub.fail503.set('info', 100);
    try {
      const warnings: string[] = [];
      const again = await snapshotDownload(REPO, { ...options, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 }, onWarning: (m) => warnings.push(m) });
      assert.equal(again, dir);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /HTTP 503.*gave up after 2 attempts\); using the cached snapshot/);
      await rejectsWith(snapshotDownload(REPO, { ...setup().options, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 } }), /HTTP 503.*gave up after 2 attempts/);
    } finally {
      hub.fail503.clear();
    }
  });

  it('401 without a token says to set HF_TOKEN; the token makes it work', async () => {
    hub.token = 'hf_good';
    try {
      await rejectsWith(snapshotDownload(REPO, setup().options), /org\/tiny.*HTTP 401.*set HF_TOKEN/);
      await rejectsWith(snapshotDownload(REPO, setup({ HF_TOKEN: 'hf_bad' }).options), /HTTP 401.*token in HF_TOKEN does not give access/);
      const dir = await snapshotDownload(REPO, setup({ HF_TOKEN: 'hf_good' }).options);
      assert.ok(fs.existsSync(path.join(dir, 'model.safetensors')));
    } finally {
      hub.token = null;
    }
  });

  it('404s name the repository or the file', async () => {
    await rejectsWith(snapshotDownload('org/nope', setup().options), /org\/nope.*repository not found/);
    await rejectsWith(snapshotDownload(REPO, { ...setup().options, revision: 'v9' }), /org\/tiny \(revision v9\): revision not found/);
    hub.missing.add('tokenizer.json');
    try {
      await rejectsWith(snapshotDownload(REPO, setup().options), /org\/tiny\/tokenizer\.json: not found \(HTTP 404\)/);
    } finally {
      hub.missing.clear();
    }
  });

  it('a SHA-256 mismatch is an error naming the file, and the bad bytes are not kept', async () => {
    const { cache, options } = setup();
    hub.corrupt.add('model.safetensors');
    try {
      await rejectsWith(snapshotDownload(REPO, options), /org\/tiny\/model\.safetensors: SHA-256 mismatch/);
    } finally {
      hub.corrupt.clear();
    }
    const blobs = path.join(cache, 'models--org--tiny', 'blobs');
    const sha = hub.file(REPO, 'model.safetensors').sha256;
    assert.ok(!fs.readdirSync(blobs).some((f) => f.startsWith(sha)), 'neither the blob nor its .incomplete remains');
    // The next run downloads it properly.
    const dir = await snapshotDownload(REPO, options);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), WEIGHTS);
  });

  it('HF_HUB_OFFLINE=1 reuses the cache without a request, and names what is missing', async () => {
    const { home, options } = setup();
    const dir = await snapshotDownload(REPO, options);
    hub.log.length = 0;
    const offline = { ...options, env: { ...options.env, HF_HUB_OFFLINE: '1' } };
    assert.equal(await snapshotDownload(REPO, offline), dir);
    assert.equal(await snapshotDownload(REPO, { ...offline, revision: hub.commit(REPO) }), dir);
    assert.equal(hub.log.length, 0);
    await rejectsWith(snapshotDownload('org/other', offline), /org\/other \(revision main\) is not in the cache .*refs\/main.*HF_HUB_OFFLINE/);
    assert.ok(home);
  });

  it('a cache that cannot be written is a one-line error naming the path', async () => {
    const { home, options } = setup();
    const notADir = path.join(home, 'file');
    fs.writeFileSync(notADir, 'x');
    await rejectsWith(snapshotDownload(REPO, { ...options, cacheDir: notADir }), /cannot write .*file\/models--org--tiny.* in the Hugging Face cache: ENOTDIR/);
  });

  it('reuses blobs already in the cache and rejects an invalid repo id', async () => {
    const { cache, options } = setup();
    await snapshotDownload(REPO, { ...options, include: ['model.safetensors'] });
    // Lose the snapshot link but keep the blob: it is relinked, not downloaded.
    fs.rmSync(path.join(cache, 'models--org--tiny', 'snapshots'), { recursive: true });
    hub.log.length = 0;
    await snapshotDownload(REPO, { ...options, include: ['model.safetensors'] });
    assert.equal(hub.requests('cdn').length, 0);
    await rejectsWith(snapshotDownload('org--x/y', options), /not a valid Hugging Face repo id/);
  });
});
