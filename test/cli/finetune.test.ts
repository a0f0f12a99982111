import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadPeftAdapter } from '../../src/model/lora.js';
import { loadModel } from '../../src/model/load.js';
import { runCli } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/fixtures.js';

const TINY = fixture('xverse-tiny/safetensors');
const dir = tempDir('xverse-finetune-');
const data = path.join(dir, 'data.jsonl');
fs.writeFileSync(data, [
  { conversations: [{ from: 'human', value: 'hi' }, { from: 'bot', value: 'hello there' }] },
  { instruction: 'add', input: '1 2', output: '3' },
  { conversations: [{ from: 'human', value: 'sun' }, { from: 'bot', value: 'moon' }] },
].map((r) => JSON.stringify(r)).join('\n') + '\n');

const lora = (out: string) => ['finetune', '-m', TINY, '--data', data, '--lr', '1e-2', '--epochs', '4', '--batch-size', '2', '--save-steps', '2', '--output', path.join(dir, out)];

test('xverse finetune (LoRA): --stop-after then --resume ends where an uninterrupted run does; the adapter loads with --adapter', async () => {
  const whole = await runCli(lora('a'));
  assert.equal(whole.code, 0, whole.stderr);
  assert.match(whole.stderr, /lora fine-tuning .*: 3 training \/ 0 eval sequences .* 8 steps, chat format v2\n/);
  assert.match(whole.stderr, /step 8\/8 loss \d+\.\d{4} lr [\d.e+-]+ grad_norm \d+\.\d{3} \d+ tok\/s\n/);
  const stopped = await runCli([...lora('b'), '--stop-after', '3']);
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /stopped at step 3 of 8 .*continue with the same command plus --resume/);
  const resumed = await runCli([...lora('b'), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'b/adapter_model.safetensors')), fs.readFileSync(path.join(dir, 'a/adapter_model.safetensors')));
  // Every column but the measured speed is identical.
  const columns = (run: string) => fs.readFileSync(path.join(dir, run, 'loss.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 4).join(','));
  assert.deepEqual(columns('b'), columns('a'));
  const csv = fs.readFileSync(path.join(dir, 'a/loss.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'step,loss,eval_loss,lr,tokens_per_second');
  assert.equal(csv.length, 9);
  assert.deepEqual([...fs.readFileSync(path.join(dir, 'a/loss.png')).subarray(1, 4)], [0x50, 0x4e, 0x47]);

  const gen = (extra: string[]) => runCli(['generate', '-m', TINY, '--prompt-ids', '2,10', '-n', '5', '--greedy', '--json', ...extra]);
  const [plain, adapted] = [await gen([]), await gen(['--adapter', path.join(dir, 'a')])];
  assert.equal(adapted.code, 0, adapted.stderr);
  assert.notDeepEqual(JSON.parse(adapted.stdout).ids, JSON.parse(plain.stdout).ids);

  // Merged and exported: a safetensors folder and a GGUF file compute what base + adapter does.
  const merged = path.join(dir, 'merged');
  const gguf = path.join(dir, 'merged.gguf');
  for (const args of [[merged, '--to', 'safetensors'], [gguf, '--to', 'gguf', '--outtype', 'f32']]) {
    const r = await runCli(['convert', TINY, ...args, '--adapter', path.join(dir, 'a')]);
    assert.equal(r.code, 0, r.stderr);
  }
  const withAdapter = loadModel(TINY, { backend: 'typescript', dtype: 'f32' }).applyLora(loadPeftAdapter(path.join(dir, 'a'), 2));
  const ids = [2, 10, 99, 300];
  const expected = withAdapter.forward(ids, withAdapter.createCache(), { allLogits: true });
  for (const file of [merged, gguf]) {
    const m = loadModel(file, { backend: 'typescript' });
    const got = m.forward(ids, m.createCache(), { allLogits: true });
    let d = 0;
    for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i]! - expected[i]!));
    assert.ok(d < 1e-4, `${file}: ${d}`);
  }
});

test('xverse finetune: bad data and bad flag combinations are one-line errors', async () => {
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"conversations":[{"from":"human","value":"x"}]}\n');
  const r = await runCli(['finetune', '-m', TINY, '--data', bad, '--output', path.join(dir, 'x')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^xverse: DatasetError: .*bad\.jsonl:1: /);
  const q = await runCli(['finetune', '-m', TINY, '--data', data, '--finetuning-type', 'full', '--quantize', 'q8_0', '--output', path.join(dir, 'y')]);
  assert.equal(q.code, 1);
  assert.match(q.stderr, /--quantize applies to LoRA/);
  const noCkpt = await runCli(['finetune', '-m', TINY, '--data', data, '--resume', '--output', path.join(dir, 'none')]);
  assert.equal(noCkpt.code, 1);
  assert.match(noCkpt.stderr, /--resume: no checkpoint-N folder in/);
});

test('xverse finetune --engine deepspeed writes the cluster job; --import-from finds its checkpoint', async () => {
  const job = path.join(dir, 'job');
  const r = await runCli(['finetune', '--engine', 'deepspeed', '--finetuning-type', 'full', '-m', 'xverse/XVERSE-13B', '--data', data, '--lr', '2e-5', '--epochs', '2', '--output', job]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['deepspeed.json', 'train.yaml', 'run.sh', 'data/dataset_info.json', 'README.md']) assert.ok(fs.existsSync(path.join(job, f)), f);
  assert.equal(JSON.parse(fs.readFileSync(path.join(job, 'deepspeed.json'), 'utf8')).zero_optimization.stage, 2);
  fs.cpSync(TINY, path.join(job, 'output/checkpoint-200'), { recursive: true });
  const imported = await runCli(['finetune', '--engine', 'deepspeed', '--data', data, '--import-from', path.join(job, 'output')]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.equal(imported.stdout.trim(), path.join(job, 'output/checkpoint-200'));
});
