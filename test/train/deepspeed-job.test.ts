import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DatasetError, XverseError } from '../../src/errors.js';
import { loadModel } from '../../src/model/load.js';
import {
  README_DEEPSPEED_ZERO2,
  convertDataset,
  findOnPath,
  importTrainedCheckpoint,
  launchDeepSpeedJob,
  writeDeepSpeedJob,
  yamlFloat,
  type SpawnFunction,
  type SpawnRequest,
} from '../../src/train/deepspeed-job.js';
import { fixture, readJson, tempDir } from '../helpers/fixtures.js';

const ROOT = tempDir('xverse-deepspeed-job-');
let counter = 0;
/** A fresh folder under one temporary root (one exit hook for the whole file). */
function freshDir(): string {
  const dir = path.join(ROOT, String(counter++));
  fs.mkdirSync(dir);
  return dir;
}

/** The README's deepspeed.json, spelled out as the README prints it. */
const README_JSON = {
  train_micro_batch_size_per_gpu: 'auto',
  gradient_accumulation_steps: 'auto',
  gradient_clipping: 'auto',
  zero_allow_untested_optimizer: true,
  bf16: { enabled: true },
  zero_optimization: { stage: 2, allgather_partitions: true, reduce_scatter: true, overlap_comm: false, contiguous_gradients: true },
};

/** The tags of every written dataset_info.json entry. */
const SHAREGPT_TAGS = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation' };

/** `key: value` lines of our flat YAML (comments and section headers skipped). */
function yamlPairs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const i = line.indexOf(': ');
    assert.ok(i > 0, `not a key: value line: ${line}`);
    assert.ok(!out.has(line.slice(0, i)), `duplicate key ${line.slice(0, i)}`);
    out.set(line.slice(0, i), line.slice(i + 2));
  }
  return out;
}

function writeAlpacaJsonl(dir: string): string {
  const file = path.join(dir, 'alpaca.jsonl');
  fs.writeFileSync(file, [
    JSON.stringify({ instruction: 'Say hi', output: 'Hi!' }),
    '',
    JSON.stringify({ instruction: 'Translate', input: 'bonjour', output: 'hello', system: 'You translate.', id: 7 }),
    '',
  ].join('\n'));
  return file;
}

test('alpaca JSONL → job folder: data, registry entry, README deepspeed.json, train.yaml, run.sh, README.md', () => {
  const tmp = freshDir();
  const job = writeDeepSpeedJob({ modelPath: 'xverse/XVERSE-13B', dataFile: writeAlpacaJsonl(tmp), outDir: path.join(tmp, 'job') });
  const dir = path.join(tmp, 'job');
  assert.equal(job.dir, dir);
  assert.deepEqual(job.files.map((f) => path.relative(dir, f)).sort(),
    ['README.md', 'data/dataset_info.json', 'data/xverse_sft.json', 'deepspeed.json', 'run.sh', 'train.yaml'].map((p) => p.split('/').join(path.sep)).sort());
  assert.equal(job.formatting, 'sharegpt');
  assert.equal(job.records, 2);
  assert.equal(job.outputDir, path.join(dir, 'output'));
  assert.deepEqual(job.command, ['llamafactory-cli', 'train', 'train.yaml']);
  assert.deepEqual(job.env, { FORCE_TORCHRUN: '1', NPROC_PER_NODE: '8' });
  assert.equal(job.tool, 'llamafactory-cli');

  // Alpaca records re-written as sharegpt conversations (instruction + "\n" + input as the user turn), other fields dropped.
  assert.deepEqual(readJson(path.join(dir, 'data', 'xverse_sft.json')), [
    { conversations: [{ from: 'human', value: 'Say hi' }, { from: 'gpt', value: 'Hi!' }] },
    { conversations: [{ from: 'human', value: 'Translate\nbonjour' }, { from: 'gpt', value: 'hello' }], system: 'You translate.' },
  ]);
  assert.deepEqual(readJson(path.join(dir, 'data', 'dataset_info.json')), {
    xverse_sft: {
      file_name: 'xverse_sft.json',
      formatting: 'sharegpt',
      columns: { messages: 'conversations', system: 'system' },
      tags: SHAREGPT_TAGS,
    },
  });

  // ZeRO-2: exactly the README's object.
  assert.deepEqual(readJson(path.join(dir, 'deepspeed.json')), README_JSON);
  assert.deepEqual(README_DEEPSPEED_ZERO2, README_JSON);

  const yaml = yamlPairs(fs.readFileSync(path.join(dir, 'train.yaml'), 'utf8'));
  assert.deepEqual(Object.fromEntries(yaml), {
    model_name_or_path: 'xverse/XVERSE-13B',
    trust_remote_code: 'true',
    stage: 'sft',
    do_train: 'true',
    finetuning_type: 'full',
    deepspeed: 'deepspeed.json',
    dataset_dir: 'data',
    dataset: 'xverse_sft',
    template: 'xverse',
    overwrite_cache: 'true',
    preprocessing_num_workers: '16',
    output_dir: 'output',
    logging_steps: '10',
    save_steps: '200',
    plot_loss: 'true',
    per_device_train_batch_size: '4',
    gradient_accumulation_steps: '4',
    learning_rate: '2.0e-5',
    num_train_epochs: '2.0',
    lr_scheduler_type: 'cosine',
    max_grad_norm: '0.5',
    bf16: 'true',
  });

  const runSh = path.join(dir, 'run.sh');
  assert.equal(fs.readFileSync(runSh, 'utf8'), [
    '#!/usr/bin/env bash',
    '# Full fine-tuning of XVERSE with LLaMA-Factory + DeepSpeed ZeRO-2 on 8 GPU(s). Written by xverse-ts.',
    '# Run it on the GPU machine from anywhere: it works in its own folder.',
    'set -euo pipefail',
    'cd "$(dirname "$0")"',
    'export FORCE_TORCHRUN="${FORCE_TORCHRUN:-1}"',
    'export NPROC_PER_NODE="${NPROC_PER_NODE:-8}"',
    'exec llamafactory-cli train train.yaml',
    '',
  ].join('\n'));
  if (process.platform !== 'win32') assert.equal(fs.statSync(runSh).mode & 0o777, 0o755);

  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  for (const needle of ['llamafactory-cli', 'DeepSpeed', 'GPU', '2 sharegpt record(s)', 'xverse chat -m output', 'importTrainedCheckpoint', '8 GPU(s) × batch 4 × accumulation 4 = 128']) {
    assert.ok(readme.includes(needle), `README.md mentions ${needle}`);
  }
});

test('ShareGPT JSON (XVERSE README record shape): bot → gpt, system turn → system field, ZeRO-3, eval keys with val_size', () => {
  const tmp = freshDir();
  const dataFile = path.join(tmp, 'chat.json');
  fs.writeFileSync(dataFile, JSON.stringify([
    { id: '1', conversations: [{ from: 'human', value: 'Hello' }, { from: 'bot', value: 'Hi, how can I help?' }] },
    {
      id: '2',
      conversations: [
        { from: 'system', value: 'Be brief.' },
        { from: 'human', value: '1+1?' }, { from: 'bot', value: '2' },
        { from: 'human', value: 'and 2+2?' }, { from: 'bot', value: '4' },
      ],
    },
  ], null, 2));
  const job = writeDeepSpeedJob({
    modelPath: '/models/XVERSE-13B-Chat', dataFile, outDir: path.join(tmp, 'job'), datasetName: 'my_chat',
    zeroStage: 3, numGpus: 4, template: 'default', cutoffLen: 4096, valSize: 0.05, learningRate: 1e-5, numTrainEpochs: 3,
  });
  assert.equal(job.formatting, 'sharegpt');
  assert.deepEqual(readJson(path.join(job.dir, 'data', 'dataset_info.json')), {
    my_chat: { file_name: 'my_chat.json', formatting: 'sharegpt', columns: { messages: 'conversations', system: 'system' }, tags: SHAREGPT_TAGS },
  });
  assert.deepEqual(readJson(path.join(job.dir, 'data', 'my_chat.json')), [
    { conversations: [{ from: 'human', value: 'Hello' }, { from: 'gpt', value: 'Hi, how can I help?' }] },
    {
      conversations: [
        { from: 'human', value: '1+1?' }, { from: 'gpt', value: '2' },
        { from: 'human', value: 'and 2+2?' }, { from: 'gpt', value: '4' },
      ],
      system: 'Be brief.',
    },
  ]);

  assert.deepEqual(readJson(path.join(job.dir, 'deepspeed.json')), {
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    zero_allow_untested_optimizer: true,
    bf16: { enabled: true },
    zero_optimization: {
      stage: 3,
      overlap_comm: true,
      contiguous_gradients: true,
      sub_group_size: 1e9,
      reduce_bucket_size: 'auto',
      stage3_prefetch_bucket_size: 'auto',
      stage3_param_persistence_threshold: 'auto',
      stage3_max_live_parameters: 1e9,
      stage3_max_reuse_distance: 1e9,
      stage3_gather_16bit_weights_on_model_save: true,
    },
  });

  const yaml = yamlPairs(fs.readFileSync(path.join(job.dir, 'train.yaml'), 'utf8'));
  assert.equal(yaml.get('model_name_or_path'), '/models/XVERSE-13B-Chat');
  assert.equal(yaml.get('dataset'), 'my_chat');
  assert.equal(yaml.get('template'), 'default');
  assert.equal(yaml.get('cutoff_len'), '4096');
  assert.equal(yaml.get('learning_rate'), '1.0e-5');
  assert.equal(yaml.get('num_train_epochs'), '3.0');
  assert.equal(yaml.get('val_size'), '0.05');
  assert.equal(yaml.get('per_device_eval_batch_size'), '4');
  assert.equal(yaml.get('eval_strategy'), 'steps');
  assert.equal(yaml.get('eval_steps'), '200');
  assert.equal(yaml.get('load_best_model_at_end'), 'true');
  assert.match(fs.readFileSync(path.join(job.dir, 'run.sh'), 'utf8'), /export NPROC_PER_NODE="\$\{NPROC_PER_NODE:-4\}"/);
});

test('convertDataset: alpaca history and ShareGPT role aliases in one file become human/gpt/observation turns; no system column without a system prompt', () => {
  const tmp = freshDir();
  const dataFile = path.join(tmp, 'mixed.jsonl');
  fs.writeFileSync(dataFile, [
    JSON.stringify({ instruction: 'q2', input: '', output: 'a2', history: [['q1', 'a1']], system: '' }),
    JSON.stringify({ conversations: [
      { from: 'user', value: 'weather?' }, { from: 'function_call', value: '{"name":"w"}' },
      { from: 'tool', value: 'sunny' }, { from: 'assistant', value: 'It is sunny.' },
      { from: 'observation', value: 'rain now' }, { from: 'bot', value: 'Now it rains.' },
    ] }),
    '',
  ].join('\n'));
  const data = convertDataset(dataFile);
  assert.deepEqual(data.records, [
    { conversations: [{ from: 'human', value: 'q1' }, { from: 'gpt', value: 'a1' }, { from: 'human', value: 'q2' }, { from: 'gpt', value: 'a2' }] },
    {
      conversations: [
        { from: 'human', value: 'weather?' }, { from: 'gpt', value: '{"name":"w"}' },
        { from: 'observation', value: 'sunny' }, { from: 'gpt', value: 'It is sunny.' },
        { from: 'observation', value: 'rain now' }, { from: 'gpt', value: 'Now it rains.' },
      ],
    },
  ]);
  assert.deepEqual(data.entry, { formatting: 'sharegpt', columns: { messages: 'conversations' }, tags: SHAREGPT_TAGS });
});

test("launcher 'deepspeed' writes the README's deepspeed --num_gpus=N src/train_bash.py command", () => {
  const tmp = freshDir();
  const job = writeDeepSpeedJob({
    modelPath: 'xverse/XVERSE-13B', dataFile: writeAlpacaJsonl(tmp), outDir: path.join(tmp, 'job'),
    launcher: 'deepspeed', template: 'default', valSize: 0.01, outputDir: path.join(tmp, 'job', 'out', 'sft'),
  });
  assert.equal(job.tool, 'deepspeed');
  assert.deepEqual(job.env, {});
  assert.deepEqual(job.command, [
    'deepspeed', '--num_gpus=8', '${LLAMA_FACTORY_DIR}/src/train_bash.py',
    '--stage', 'sft', '--model_name_or_path', 'xverse/XVERSE-13B', '--do_train',
    '--dataset_dir', 'data', '--dataset', 'xverse_sft', '--template', 'default', '--finetuning_type', 'full',
    '--output_dir', 'out/sft', '--overwrite_cache',
    '--per_device_train_batch_size', '4', '--per_device_eval_batch_size', '4', '--gradient_accumulation_steps', '4',
    '--preprocessing_num_workers', '16', '--lr_scheduler_type', 'cosine', '--logging_steps', '10',
    '--save_steps', '200', '--eval_steps', '200', '--learning_rate', '2e-5', '--max_grad_norm', '0.5',
    '--num_train_epochs', '2.0', '--evaluation_strategy', 'steps', '--load_best_model_at_end', '--val_size', '0.01',
    '--plot_loss', '--bf16', '--padding_side', 'right', '--deepspeed', 'deepspeed.json',
  ]);
  const text = fs.readFileSync(path.join(job.dir, 'run.sh'), 'utf8');
  assert.ok(text.includes(': "${LLAMA_FACTORY_DIR:?'));
  assert.ok(text.includes('exec deepspeed --num_gpus=8 "${LLAMA_FACTORY_DIR}/src/train_bash.py" \\\n    --stage sft \\\n'));
  assert.ok(text.endsWith('    --deepspeed deepspeed.json\n'));
  assert.ok(text.includes('    --load_best_model_at_end \\\n    --val_size 0.01 \\\n'));
});

test('a second job in the same folder keeps the other data sets in dataset_info.json', () => {
  const tmp = freshDir();
  const outDir = path.join(tmp, 'job');
  writeDeepSpeedJob({ modelPath: 'm', dataFile: writeAlpacaJsonl(tmp), outDir, datasetName: 'first' });
  writeDeepSpeedJob({ modelPath: 'm', dataFile: writeAlpacaJsonl(tmp), outDir, datasetName: 'second' });
  assert.deepEqual(Object.keys(readJson<Record<string, unknown>>(path.join(outDir, 'data', 'dataset_info.json'))), ['first', 'second']);
});

test('malformed records are DatasetErrors naming file:line (data.ts messages)', () => {
  const tmp = freshDir();
  const cases: Array<[string, string, RegExp]> = [
    ['bad.jsonl', '{"instruction":"a","output":"b"}\n\n{"instruction":"a"}\n', /bad\.jsonl:3: alpaca record: missing "output"/],
    ['broken.jsonl', '{"instruction":"a","output":"b"}\n{"instruction":\n', /broken\.jsonl:2: not valid JSON/],
    ['bad.json', '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "a",\n   "output": 5}\n]', /bad\.json:3: "output" must be a string/],
    ['roles.json', JSON.stringify([{ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] }, { conversations: [{ from: 'human', value: 'q' }, { from: 'human', value: 'a' }] }], null, 1),
      /roles\.json:14: conversations\[1\]: a human turn follows another user\/tool turn; turns must alternate/],
    ['openai.jsonl', '{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n', /openai\.jsonl:1: neither an alpaca record .* nor a ShareGPT record/],
    ['unknown.jsonl', '{"conversations":[{"from":"human","value":"q"},{"from":"robot","value":"a"}]}\n', /unknown\.jsonl:1: conversations\[1\]: unknown "from" "robot"/],
    ['empty-reply.jsonl', '{"instruction":"a","output":"  "}\n', /empty-reply\.jsonl:1: "output" is empty/],
    ['odd.jsonl', '{"conversations":[{"from":"human","value":"q"}]}\n', /odd\.jsonl:1: the conversation must end with an assistant turn/],
    ['object.json', '{"instruction":"a","output":"b"}', /object\.json: expected a JSON array of records/],
    ['records.txt', '{"instruction":"a","output":"b"}\n', /records\.txt: expected a \.json .* or \.jsonl/],
  ];
  for (const [name, text, pattern] of cases) {
    const dataFile = path.join(tmp, name);
    fs.writeFileSync(dataFile, text);
    assert.throws(() => writeDeepSpeedJob({ modelPath: 'm', dataFile, outDir: path.join(tmp, `job-${name}`) }),
      (err: unknown) => err instanceof DatasetError && pattern.test(err.message), name);
    assert.equal(fs.existsSync(path.join(tmp, `job-${name}`)), false, `${name}: nothing written`);
  }
});

test('bad options are XverseErrors', () => {
  const tmp = freshDir();
  const dataFile = writeAlpacaJsonl(tmp);
  const outDir = path.join(tmp, 'job');
  assert.throws(() => writeDeepSpeedJob({ modelPath: 'm', dataFile, outDir, numGpus: 0 }), /numGpus must be a positive integer/);
  assert.throws(() => writeDeepSpeedJob({ modelPath: 'm', dataFile, outDir, zeroStage: 1 as 2 }), /zeroStage must be 2 or 3/);
  assert.throws(() => writeDeepSpeedJob({ modelPath: 'm', dataFile, outDir, datasetName: '../x' }), /datasetName/);
  assert.throws(() => writeDeepSpeedJob({ modelPath: 'm', dataFile, outDir, valSize: 1.5 }), /valSize/);
});

test('yamlFloat writes floats PyYAML reads as floats', () => {
  assert.equal(yamlFloat(2e-5), '2.0e-5');
  assert.equal(yamlFloat(1.5e-5), '1.5e-5');
  assert.equal(yamlFloat(2), '2.0');
  assert.equal(yamlFloat(0.5), '0.5');
  assert.equal(yamlFloat(0.001), '0.001');
});

test('launch without the tool on PATH: an XverseError naming the tool and saying the folder is ready to copy', async () => {
  const tmp = freshDir();
  const job = writeDeepSpeedJob({ modelPath: 'm', dataFile: writeAlpacaJsonl(tmp), outDir: path.join(tmp, 'job') });
  let spawned = false;
  await assert.rejects(
    launchDeepSpeedJob(job, { which: () => null, spawn: () => { spawned = true; throw new Error('not reached'); } }),
    (err: unknown) => err instanceof XverseError && /^llamafactory-cli is not on PATH/.test(err.message)
      && err.message.includes(job.dir) && /copy it to a GPU machine/.test(err.message),
  );
  assert.equal(spawned, false);
  const ds = writeDeepSpeedJob({ modelPath: 'm', dataFile: writeAlpacaJsonl(tmp), outDir: path.join(tmp, 'job-ds'), launcher: 'deepspeed' });
  await assert.rejects(launchDeepSpeedJob(ds, { which: () => null }), /^XverseError: deepspeed is not on PATH|deepspeed is not on PATH/);
});

test('launch with a fake spawn runs bash run.sh in the job folder and resolves on exit 0, rejects otherwise', async () => {
  const tmp = freshDir();
  const job = writeDeepSpeedJob({ modelPath: 'm', dataFile: writeAlpacaJsonl(tmp), outDir: path.join(tmp, 'job') });
  const calls: Array<{ command: string; args: readonly string[]; options: SpawnRequest }> = [];
  const fakeSpawn = (code: number): SpawnFunction => (command, args, options) => {
    calls.push({ command, args, options });
    const child = new EventEmitter();
    setImmediate(() => child.emit('close', code, null));
    return child;
  };
  const looked: string[] = [];
  const which = (p: string) => {
    looked.push(p);
    return `/usr/bin/${p}`;
  };
  assert.equal(await launchDeepSpeedJob(job, { which, spawn: fakeSpawn(0), env: { PATH: '/usr/bin' } }), 0);
  assert.deepEqual(looked, ['llamafactory-cli']);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.command, 'bash');
  assert.deepEqual(calls[0]!.args, [path.join(job.dir, 'run.sh')]);
  assert.equal(calls[0]!.options.cwd, job.dir);
  assert.equal(calls[0]!.options.stdio, 'inherit');
  assert.deepEqual(calls[0]!.options.env, { PATH: '/usr/bin' });
  await assert.rejects(launchDeepSpeedJob(job, { which, spawn: fakeSpawn(3) }), /run\.sh exited with code 3/);
});

test('launch with the real spawn: run.sh runs the tool found on PATH from the job folder with FORCE_TORCHRUN=1', { skip: process.platform === 'win32' }, async () => {
  const tmp = freshDir();
  const job = writeDeepSpeedJob({ modelPath: 'm', dataFile: writeAlpacaJsonl(tmp), outDir: path.join(tmp, 'job'), numGpus: 2 });
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  const record = path.join(tmp, 'record.txt');
  // A stand-in llamafactory-cli that records its arguments, folder and environment (and prints nothing).
  fs.writeFileSync(path.join(bin, 'llamafactory-cli'),
    `#!/usr/bin/env bash\necho "$* | $PWD | $FORCE_TORCHRUN $NPROC_PER_NODE | $(test -f train.yaml && echo yaml)" > ${JSON.stringify(record)}\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: [bin, process.env['PATH'] ?? ''].join(path.delimiter) };
  delete env['NPROC_PER_NODE'];
  delete env['FORCE_TORCHRUN'];
  assert.equal(await launchDeepSpeedJob(job, { env }), 0);
  assert.equal(fs.readFileSync(record, 'utf8'), `train train.yaml | ${fs.realpathSync(job.dir)} | 1 2 | yaml\n`);
});

test('findOnPath finds executables only', () => {
  const tmp = freshDir();
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'plain'), 'x', { mode: 0o644 });
  const env = { PATH: ['/nonexistent', bin].join(path.delimiter) };
  assert.equal(findOnPath('tool', env), path.join(bin, 'tool'));
  assert.equal(findOnPath('missing', env), null);
  if (process.platform !== 'win32') assert.equal(findOnPath('plain', env), null);
});

test('importTrainedCheckpoint picks the highest checkpoint-N, which then loads', () => {
  const tmp = freshDir();
  const out = path.join(tmp, 'output');
  for (const step of ['checkpoint-200', 'checkpoint-400', 'checkpoint-90']) {
    fs.cpSync(fixture('xverse-tiny', 'safetensors'), path.join(out, step), { recursive: true });
  }
  fs.writeFileSync(path.join(out, 'trainer_log.jsonl'), '');
  const dir = importTrainedCheckpoint(out);
  assert.equal(dir, path.join(out, 'checkpoint-400'));
  const model = loadModel(dir, { backend: 'typescript' });
  assert.ok(model.config.numLayers > 0);
});

test('importTrainedCheckpoint prefers the final model in the output folder itself; explains what is missing', () => {
  const tmp = freshDir();
  const out = path.join(tmp, 'output');
  fs.cpSync(fixture('xverse-tiny', 'safetensors'), out, { recursive: true });
  fs.cpSync(fixture('xverse-tiny', 'safetensors'), path.join(out, 'checkpoint-200'), { recursive: true });
  assert.equal(importTrainedCheckpoint(out), out);

  assert.throws(() => importTrainedCheckpoint(path.join(tmp, 'nope')), /no such folder/);
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  assert.throws(() => importTrainedCheckpoint(empty), /no model found/);
  const sharded = path.join(tmp, 'sharded');
  fs.mkdirSync(path.join(sharded, 'checkpoint-10', 'global_step10'), { recursive: true });
  fs.writeFileSync(path.join(sharded, 'checkpoint-10', 'zero_to_fp32.py'), '');
  assert.throws(() => importTrainedCheckpoint(sharded), /zero_to_fp32\.py/);
  // Weights that do not match config.json fail header-wise.
  const wrong = path.join(tmp, 'wrong');
  fs.cpSync(fixture('xverse-tiny', 'safetensors'), wrong, { recursive: true });
  const config = readJson<Record<string, unknown>>(path.join(wrong, 'config.json'));
  fs.writeFileSync(path.join(wrong, 'config.json'), JSON.stringify({ ...config, vocab_size: Number(config['vocab_size']) + 1 }));
  assert.throws(() => importTrainedCheckpoint(wrong), /model\.embed_tokens\.weight" has shape/);
});
