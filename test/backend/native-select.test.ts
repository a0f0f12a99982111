/**
 * Backend selection: createBackend's choices, XVERSE_BACKEND, the one-time fallback warning when
 * the addon cannot load (simulated in child processes with XVERSE_NATIVE_PATH pointing nowhere),
 * and `xverse info`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { NativeBackend } from '../../src/backend/native/native-backend.js';
import { createBackend } from '../../src/backend/select.js';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { BackendError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { fixture, REPO_ROOT } from '../helpers/fixtures.js';
import { addon, skipNative } from '../helpers/native.js';

const SELECT = pathToFileURL(path.join(REPO_ROOT, 'dist/src/backend/select.js')).href;
const LOAD = pathToFileURL(path.join(REPO_ROOT, 'dist/src/model/load.js')).href;

/** Runs an ES module snippet in a fresh Node process (a fresh addon loader) with extra env. */
function runNode(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const MISSING = { XVERSE_NATIVE_PATH: path.join(REPO_ROOT, 'no-such-addon.node'), XVERSE_BACKEND: '' };

test('createBackend: typescript on request; native when the addon loads (f16 KV by default)', () => {
  assert.ok(createBackend({ backend: 'typescript' }) instanceof TsBackend);
  if (!addon) return;
  const be = createBackend();
  assert.ok(be instanceof NativeBackend);
  assert.equal(be.name, 'native');
  assert.equal(be.defaultKVCacheType, 'f16');
  assert.ok(createBackend({ backend: 'native' }) instanceof NativeBackend);
  assert.throws(() => createBackend({ threads: 0 }), /threads must be an integer ≥ 1, got 0/);
});

test('XVERSE_BACKEND picks the default backend; a bad value is a clear error', () => {
  const saved = process.env['XVERSE_BACKEND'];
  try {
    process.env['XVERSE_BACKEND'] = 'typescript';
    assert.ok(createBackend() instanceof TsBackend);
    process.env['XVERSE_BACKEND'] = 'gpu';
    assert.throws(() => createBackend(), (e: unknown) => e instanceof BackendError && e.message === 'XVERSE_BACKEND must be auto, native or typescript, got "gpu"');
    // An explicit choice wins over the environment.
    assert.ok(createBackend({ backend: 'typescript' }) instanceof TsBackend);
  } finally {
    if (saved === undefined) delete process.env['XVERSE_BACKEND'];
    else process.env['XVERSE_BACKEND'] = saved;
  }
});

test('without the addon, auto falls back to TypeScript with ONE warning per process; native is an error with the reason', () => {
  const auto = runNode(`
    import { createBackend } from '${SELECT}';
    import { loadModel } from '${LOAD}';
    const names = [createBackend().name, createBackend({ backend: 'auto' }).name, loadModel(${JSON.stringify(fixture('xverse-tiny/safetensors'))}).backend.name];
    const seen = [];
    createBackend({ onWarning: (m) => seen.push(m) });
    console.log(JSON.stringify({ names, seen }));`, MISSING);
  assert.equal(auto.status, 0, auto.stderr);
  const out = JSON.parse(auto.stdout) as { names: string[]; seen: string[] };
  assert.deepEqual(out.names, ['typescript', 'typescript', 'typescript']);
  const warnings = auto.stderr.split('\n').filter((l) => l.includes('warning'));
  assert.equal(warnings.length, 1, auto.stderr);
  assert.match(warnings[0]!, /^xverse: warning: native backend unavailable \(.*no-such-addon\.node could not be loaded: .*\); using the slower TypeScript backend$/);
  assert.equal(out.seen.length, 1, 'a custom onWarning hears its own warning');

  const native = runNode(`
    import { createBackend } from '${SELECT}';
    try { createBackend({ backend: 'native' }); } catch (e) { console.log(e.name + ': ' + e.message); }`, MISSING);
  assert.match(native.stdout, /^BackendError: the native backend is not available: .*no-such-addon\.node could not be loaded/);
});

test('xverse info prints the backend, ISA, threads and features; with --model the config and weight bytes', async () => {
  let r = await runCli(['info', '--backend', 'typescript']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backend {3}typescript\nisa {7}js\nthreads {3}1\nfeatures {2}node v/);
  r = await runCli(['info', '--backend', 'typescript', '--json', '--model', fixture('xverse-tiny/safetensors')]);
  const info = JSON.parse(r.stdout) as { backend: { name: string }; model: { layers: number; parameters: number; weightBytes: Record<string, number> } };
  assert.equal(info.backend.name, 'typescript');
  assert.equal(info.model.layers, 2);
  assert.equal(info.model.parameters, 533120);
  assert.deepEqual(info.model.weightBytes, { BF16: 1066240 });
});

test('xverse info on the native backend: ISA level, --threads, CPU flags and build features', { skip: skipNative }, async () => {
  const r = await runCli(['info', '--threads', '1', '-m', fixture('xverse-tiny/safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backend {3}native\nisa {7}\S+\nthreads {3}1\n/);
  assert.match(r.stdout, /compiler: /);
  assert.match(r.stdout, /isa levels: scalar/);
  assert.match(r.stdout, /weights {3}21 tensors, 533,120 parameters, 1\.07 MB BF16/);
  const forced = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/src/cli/main.js'), 'info'], { env: { ...process.env, XVERSE_ISA: 'scalar' }, encoding: 'utf8' });
  assert.match(forced.stdout, /isa {7}scalar\n/);
  assert.match(forced.stdout, /forced by XVERSE_ISA=scalar/);
});

test('the CLI refuses --backend native without the addon, in one line', async () => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/src/cli/main.js'), 'generate', '--backend', 'native', '-n', '1'], { env: { ...process.env, ...MISSING }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^xverse: BackendError: the native backend is not available: .*no-such-addon\.node could not be loaded: [^\n]*\n$/);
});
