import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/api/pretrained.js';
import { loadPeftAdapter } from '../../src/model/lora.js';
import { loadModel } from '../../src/model/load.js';
import { buildSftDataset, loadSftRecords } from '../../src/train/data.js';
import { namedParams } from '../../src/train/graph.js';
import { loadTrainable, Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { fixture, REPO_ROOT, tempDir } from '../helpers/fixtures.js';

const STORIES = path.join(REPO_ROOT, 'models/stories260K');
const TINY = fixture('xverse-tiny/safetensors');
const dir = tempDir('xverse-train-');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** ShareGPT records (XVERSE README's human/bot shape) as a JSONL file. */
function writeData(name: string, pairs: Array<[string, string]>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, pairs.map(([q, a]) => JSON.stringify({ id: '', conversations: [{ from: 'human', value: q }, { from: 'bot', value: a }] })).join('\n') + '\n');
  return file;
}

const base: Omit<TrainOptions, 'outputDir' | 'finetuningType'> = {
  learningRate: 1e-2, epochs: 3, batchSize: 2, gradAccum: 1, maxGradNorm: 0.5, scheduler: 'cosine', warmupSteps: 1,
  weightDecay: 0, seed: 11, saveSteps: 2, evalSteps: 0,
};

test('LoRA on stories260K in the XVERSE chat template: the loss falls and the model then answers a training prompt with its reply', async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(STORIES);
  const pairs: Array<[string, string]> = [['Who is Lily?', 'Lily is a girl.'], ['What did Tom see?', 'Tom saw a big dog.'], ['Where is the ball?', 'The ball is in the park.']];
  const data = buildSftDataset(tokenizer, loadSftRecords(writeData('stories.jsonl', pairs)), { format: 'v2', eosTokenId: 2 });
  const model = loadTrainable(STORIES);
  const outputDir = path.join(dir, 'lora-stories');
  const trainer = new Trainer(model, data.sequences, [], {
    ...base, finetuningType: 'lora', outputDir, epochs: 60, batchSize: 3, learningRate: 2e-2, saveSteps: 0,
    lora: { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
  });
  const result = trainer.run(undefined, STORIES);
  assert.equal(result.finished, true);
  const first = trainer.history[0]!.loss;
  const last = trainer.history.at(-1)!.loss;
  assert.ok(last < first * 0.2, `loss ${first} → ${last}`);
  process.stdout.write(`# LoRA stories260K: loss ${first.toFixed(4)} → ${last.toFixed(4)}\n`);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'loss.csv', 'loss.png']) assert.ok(fs.existsSync(path.join(outputDir, f)), f);

  const tuned = await AutoModelForCausalLM.fromPretrained(STORIES, { adapter: outputDir, backend: 'typescript', chatFormat: 'v2' });
  // Greedy replies, as long as the trained ones. (The trained EOS after them cannot win here: llama2.c's
  // TinyStories never contain EOS, so its row of the tied embedding/head is the untrained one ~217
  // unused tokens share — their logits are always equal, and LoRA on the projections cannot change
  // that. The EOS loss stays at log 217 ≈ 5.38; full fine-tuning, which trains the embedding, can.)
  for (const [q, a] of pairs) {
    const maxNewTokens = tokenizer.encode(a, { addSpecialTokens: false }).length;
    const reply = await tuned.chat(tokenizer, [{ role: 'user', content: q }], { doSample: false, maxNewTokens, repetitionPenalty: 1 });
    assert.equal(reply.trim(), a, `reply to ${q}`);
  }
});

test('full fine-tuning of xverse-tiny: loss falls; a run stopped and resumed from its checkpoint matches an uninterrupted one step for step', async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(TINY);
  const pairs: Array<[string, string]> = [['hi', 'hello there'], ['one two', 'three four'], ['red', 'blue green'], ['sun', 'moon']];
  const { sequences } = buildSftDataset(tokenizer, loadSftRecords(writeData('tiny.jsonl', pairs)), { format: 'v2', eosTokenId: 3 });
  const run = (outputDir: string, extra: Partial<TrainOptions> = {}) =>
    new Trainer(loadTrainable(TINY), sequences, sequences.slice(0, 1), { ...base, finetuningType: 'full', outputDir, evalSteps: 3, ...extra });

  const whole = run(path.join(dir, 'full-a'));
  assert.equal(whole.run(undefined, TINY).finished, true);
  assert.equal(whole.history.length, 6);
  assert.ok(whole.history.at(-1)!.loss < whole.history[0]!.loss * 0.7, `loss ${whole.history[0]!.loss} → ${whole.history.at(-1)!.loss}`);
  assert.ok(whole.history.at(-1)!.evalLoss! < whole.history[0]!.loss);

  const stopped = run(path.join(dir, 'full-b'), { stopAfterSteps: 3 });
  assert.equal(stopped.run(undefined, TINY).finished, false);
  assert.ok(fs.existsSync(path.join(dir, 'full-b/checkpoint-3/params.bin')));
  const resumed = run(path.join(dir, 'full-b'));
  assert.equal(resumed.resume(), true);
  assert.equal(resumed.step, 3);
  assert.equal(resumed.run(undefined, TINY).finished, true);
  assert.deepEqual(resumed.history.map((h) => [h.step, h.loss, h.lr, h.gradNorm, h.evalLoss]), whole.history.map((h) => [h.step, h.loss, h.lr, h.gradNorm, h.evalLoss]));
  const a = namedParams(whole.model.params);
  namedParams(resumed.model.params).forEach(([name, p], i) => assert.deepEqual(p, a[i]![1], name));

  // A resume with other settings is refused, naming the setting.
  const other = run(path.join(dir, 'full-b'), { learningRate: 5e-3 });
  assert.throws(() => other.resume(), /was made with learningRate 0\.01, this run has 0\.005/);

  // The saved folder loads for inference and computes what the trained graph does.
  const saved = loadModel(path.join(dir, 'full-a'), { backend: 'typescript' });
  const ids = sequences[0]!.ids;
  const logits = saved.forward(ids, saved.createCache(), { allLogits: true });
  assert.ok(maxAbsDiff(logits, whole.model.forwardLogits(ids)) < 1e-4);
});

test('a saved LoRA adapter reloads with the same logits; merged weights equal base + adapter (within 1e-4), also over a q8_0 base', async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(TINY);
  const { sequences } = buildSftDataset(tokenizer, loadSftRecords(writeData('adapter.jsonl', [['a b', 'c d'], ['e f', 'g h']])), { format: 'v2', eosTokenId: 3 });
  const outputDir = path.join(dir, 'lora-tiny');
  const trainer = new Trainer(loadTrainable(TINY), sequences, [], {
    ...base, finetuningType: 'lora', outputDir, epochs: 2, learningRate: 5e-2, saveSteps: 0,
    lora: { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'] },
  });
  trainer.run(undefined, TINY);
  const ids = sequences[0]!.ids;
  const trained = trainer.model.forwardLogits(ids);

  const config = JSON.parse(fs.readFileSync(path.join(outputDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([config['peft_type'], config['r'], config['lora_alpha'], config['lora_dropout'], config['target_modules']], ['LORA', 4, 8, 0.1, ['q_proj', 'v_proj', 'down_proj']]);
  const adapter = loadPeftAdapter(outputDir, 2);
  const reloaded = loadTrainable(TINY);
  reloaded.lora = adapter;
  assert.ok(maxAbsDiff(reloaded.forwardLogits(ids), trained) < 1e-6, `reloaded ${maxAbsDiff(reloaded.forwardLogits(ids), trained)}`);

  const merged = loadModel(TINY, { backend: 'typescript', dtype: 'f32' }).applyLora(adapter);
  assert.ok(maxAbsDiff(merged.forward(ids, merged.createCache(), { allLogits: true }), trained) < 1e-4, 'merged');
  // Over a quantized base the merged matrix is quantized again: not equal, but the adapter's change
  // survives — the q8_0 merged model is far closer to the trained one than the q8_0 base alone.
  const q8 = (await AutoModelForCausalLM.fromPretrained(TINY, { adapter: outputDir, quantize: 'q8_0', backend: 'typescript' })).model;
  const q8Base = loadModel(TINY, { backend: 'typescript', quantize: 'q8_0' });
  const withAdapter = maxAbsDiff(q8.forward(ids, q8.createCache(), { allLogits: true }), trained);
  const without = maxAbsDiff(q8Base.forward(ids, q8Base.createCache(), { allLogits: true }), trained);
  assert.ok(withAdapter < without / 4, `q8_0 merged ${withAdapter}, q8_0 base ${without}`);
});
