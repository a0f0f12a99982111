import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AutoTokenizer } from '../../src/api/pretrained.js';
import { answerTokens } from '../../src/eval/answer-tokens.js';
import { loadDataset } from '../../src/eval/datasets.js';
import { buildPrompt, promptFormat, promptText } from '../../src/eval/prompts.js';
import { renderReport } from '../../src/eval/report.js';
import type { EvalResults } from '../../src/eval/results.js';
import { readResults, runEval } from '../../src/eval/runner.js';
import { knownSubjects, subjectInfo } from '../../src/eval/subjects.js';
import type { McqItem } from '../../src/eval/types.js';
import { loadModel } from '../../src/model/load.js';
import { runCli } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/fixtures.js';

const EVAL = fixture('eval');
const TINY = fixture('xverse-tiny/safetensors');
const tokenizer = await AutoTokenizer.fromPretrained(TINY);

function item(question: string, choices: [string, string, string, string], answer: number): McqItem {
  return { question, choices, answer, source: { file: 'test', line: 0 } };
}

describe('eval: prompts are byte-exact against worked examples of the published formats', () => {
  test('MMLU (hendrycks/test): header with the double space, 5 shots " X\\n\\n", question ending in "Answer:"', () => {
    const dev = loadDataset('mmlu', path.join(EVAL, 'mmlu/dev/abstract_algebra_dev.csv'));
    const question = loadDataset('mmlu', path.join(EVAL, 'mmlu/test/abstract_algebra_test.csv'))[0]!;
    const expected =
      'The following are multiple choice questions (with answers) about  abstract algebra.\n\n' +
      'Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n' +
      'Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. Statement 2 | If H and K are subgroups of G then HK is a subgroup of G.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: B\n\n' +
      'Statement 1 | Every element of a group generates a cyclic subgroup of the group. Statement 2 | The symmetric group S_10 has 10 elements.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: C\n\n' +
      'Statement 1| Every function from a finite set onto itself must be one to one. Statement 2 | Every subgroup of an abelian group is abelian.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: A\n\n' +
      'Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer: A\n\n' +
      'Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:';
    assert.equal(promptText(promptFormat('mmlu'), 'abstract_algebra', dev, question), expected);
    const built = buildPrompt(promptFormat('mmlu'), tokenizer, 'abstract_algebra', dev, question, 2048);
    assert.deepEqual([built.text, built.shots, built.truncated], [expected, 5, false]);
    assert.deepEqual(built.ids, tokenizer.encode(expected));
  });

  test('C-Eval (hkust-nlp/ceval): 以下是中国关于{科目}考试的单项选择题… with "答案：X"', () => {
    const dev = loadDataset('ceval', path.join(EVAL, 'ceval/dev/basic_medicine_dev.csv'));
    const question = item('下列哪项不是炎症的基本病理变化____', ['变质', '渗出', '增生', '坏死'], 3);
    const expected =
      '以下是中国关于基础医学考试的单项选择题，请选出其中的正确答案。\n\n' +
      '下列选项中，符合原癌基因概念的是____\nA. 是正常基因\nB. 是细胞癌基因\nC. 是肿瘤抑制基因\nD. 凋亡调节基因\n答案：A\n\n' +
      '栓塞时常伴有DIC发生，主要见于____\nA. 脂肪栓塞\nB. 空气栓塞\nC. 血栓栓塞\nD. 羊水栓塞\n答案：D\n\n' +
      '急性细菌性痢疾早期的结肠病变为____\nA. 假膜性炎\nB. 浆液性炎\nC. 卡他性炎\nD. 表面化脓性炎\n答案：C\n\n' +
      '下列各项，属于肿瘤的是____\nA. 错构瘤\nB. 动脉瘤\nC. 室壁瘤\nD. 骨软骨瘤\n答案：D\n\n' +
      '血吸虫虫卵引起的病变主要发生在____\nA. 大肠壁和肝脏\nB. 肠系膜静脉\nC. 门静脉\nD. 肺和肠\n答案：A\n\n' +
      '下列哪项不是炎症的基本病理变化____\nA. 变质\nB. 渗出\nC. 增生\nD. 坏死\n答案：';
    assert.equal(promptText(promptFormat('ceval'), 'basic_medicine', dev, question), expected);
  });

  test('CMMLU (haonan-li/CMMLU): 以下是关于{科目}的单项选择题… with "题目：" and "答案是：X"', () => {
    const dev = loadDataset('cmmlu', path.join(EVAL, 'cmmlu/dev/anatomy.csv'));
    const question = loadDataset('cmmlu', path.join(EVAL, 'cmmlu/test/anatomy.csv'))[0]!;
    const expected =
      '以下是关于解剖学的单项选择题，请直接给出正确答案的选项。\n\n' +
      '题目：壁胸膜的分部不包括\nA. 肋胸膜\nB. 肺胸膜\nC. 膈胸膜\nD. 胸膜顶\n答案是：B\n\n' +
      '题目：属于蝶骨上的结构为\nA. 垂体窝\nB. 棘孔\nC. 破裂孔\nD. 视神经管\n答案是：B\n\n' +
      '题目：属于右心房的结构是\nA. 肉柱\nB. 室上嵴\nC. 乳头肌\nD. 梳状肌\n答案是：D\n\n' +
      '题目：咽的分部\nA. 咽隐窝\nB. 口咽部\nC. 鼻咽部\nD. 喉咽部\n答案是：C\n\n' +
      '题目：舌下神经核位于\nA. 间脑\nB. 延髓\nC. 中脑\nD. 脑挢\n答案是：B\n\n' +
      '题目：女性生殖腺是\nA. 卵巢\nB. 前庭大腺\nC. 前庭球\nD. 乳腺\n答案是：';
    assert.equal(promptText(promptFormat('cmmlu'), 'anatomy', dev, question), expected);
  });
});

describe('eval: shots are dropped by each benchmark\'s rule when the prompt is too long', () => {
  const dev = loadDataset('mmlu', path.join(EVAL, 'mmlu/dev/abstract_algebra_dev.csv'));
  const question = loadDataset('mmlu', path.join(EVAL, 'mmlu/test/abstract_algebra_test.csv'))[0]!;
  const format = promptFormat('mmlu');
  const lengthWith = (k: number) => tokenizer.encode(promptText(format, 'abstract_algebra', dev.slice(0, k), question)).length;

  test('MMLU: the last shot goes, one at a time, while the prompt exceeds the limit', () => {
    assert.equal(buildPrompt(format, tokenizer, 'abstract_algebra', dev, question, lengthWith(2)).shots, 2);
    const one = buildPrompt(format, tokenizer, 'abstract_algebra', dev, question, lengthWith(2) - 1);
    assert.equal(one.shots, 1);
    assert.equal(one.text, promptText(format, 'abstract_algebra', dev.slice(0, 1), question));
    // Too long even with no shots: the start is cut, so the question's end (where the answer goes) stays.
    const cut = buildPrompt(format, tokenizer, 'abstract_algebra', dev, question, 10);
    assert.deepEqual([cut.shots, cut.truncated, cut.ids.length], [0, true, 10]);
    assert.deepEqual(cut.ids, tokenizer.encode(promptText(format, 'abstract_algebra', [], question)).slice(-10));
  });

  test('CMMLU: every shot of the longest length goes while the shots reach the limit', () => {
    const fmt = promptFormat('cmmlu');
    const shots = [item('短', ['a', 'b', 'c', 'd'], 0), item('很长很长很长的题目', ['a', 'b', 'c', 'd'], 1), item('短', ['e', 'f', 'g', 'h'], 2)];
    const q = item('问题', ['1', '2', '3', '4'], 3);
    const fixed = tokenizer.encode(fmt.header('anatomy')).length + tokenizer.encode(fmt.example(q, false)).length;
    const lengths = shots.map((s) => tokenizer.encode(fmt.example(s, true)).length);
    assert.ok(lengths[1]! > lengths[0]! && lengths[0] === lengths[2], `fixture lengths ${lengths}`);
    // Room for all three needs sum < limit − fixed; one token less drops the long one only.
    const sum = lengths.reduce((a, b) => a + b, 0);
    assert.equal(buildPrompt(fmt, tokenizer, 'anatomy', shots, q, fixed + sum + 1).shots, 3);
    const dropped = buildPrompt(fmt, tokenizer, 'anatomy', shots, q, fixed + sum);
    assert.equal(dropped.shots, 2);
    assert.equal(dropped.text, promptText(fmt, 'anatomy', [shots[0]!, shots[2]!], q));
    // Both short shots share the longest length next, so they go together.
    assert.equal(buildPrompt(fmt, tokenizer, 'anatomy', shots, q, fixed + lengths[0]! * 2).shots, 0);
  });
});

describe('eval: answer tokens', () => {
  const prompt = 'Question?\nA. x\nB. y\nC. z\nD. w\nAnswer:';
  test('continuation: the tokens the tokenizer produces for " A" after "Answer:" (a shared "▁" is read past)', () => {
    const t = answerTokens('continuation', promptFormat('mmlu'), tokenizer, prompt);
    // This 512-token vocabulary writes " A" as "▁" + "A": the "▁" ends the prompt, "A"… are compared.
    assert.deepEqual(t.lead, [260]);
    assert.deepEqual(t.ids, [287, 288, 289, 290]);
    assert.deepEqual(t.tokens, ['▁', 'A', 'B', 'C', 'D']);
  });
  test('isolated: the last id of encode("A"), as evaluate_hf.py takes it; nothing is appended to the prompt', () => {
    // This tokenizer adds a dummy-prefix "▁" (encode("A") = [260, 287]): the last id is "A" itself.
    const t = answerTokens('isolated', promptFormat('mmlu'), tokenizer, prompt);
    assert.deepEqual(t.lead, []);
    assert.deepEqual(t.ids, [287, 288, 289, 290]);
  });
  test('continuation after "答案：" (C-Eval): the letters follow the prompt directly', () => {
    const t = answerTokens('continuation', promptFormat('ceval'), tokenizer, '问题\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案：');
    assert.deepEqual([t.lead, t.ids], [[], [287, 288, 289, 290]]);
  });
});

test('eval: subject tables hold every subject of the three benchmarks, with their categories', () => {
  assert.deepEqual([knownSubjects('mmlu').length, knownSubjects('ceval').length, knownSubjects('cmmlu').length], [57, 52, 67]);
  for (const [bench, dir] of [['mmlu', 'mmlu/dev'], ['ceval', 'ceval/dev'], ['cmmlu', 'cmmlu/dev']] as const) {
    const names = fs.readdirSync(path.join(EVAL, dir)).map((f) => f.replace(/(_dev)?\.csv$/, ''));
    for (const n of names) assert.ok(subjectInfo(bench, n), `${bench} ${n}`);
  }
  assert.deepEqual(subjectInfo('mmlu', 'professional_accounting'), { promptName: ' professional accounting', categories: ['other'] });
  assert.deepEqual(subjectInfo('mmlu', 'high_school_geography')?.categories, ['social sciences']);
  assert.deepEqual(subjectInfo('ceval', 'clinical_medicine'), { promptName: '临床医学', categories: ['Other'] });
  assert.deepEqual(subjectInfo('cmmlu', 'chinese_history'), { promptName: '中国历史', categories: ['Humanities', 'China specific'] });
});

/** The results without the fields that differ run to run (timestamps, seconds). */
function stable(r: EvalResults): unknown {
  const { startedAt: _s, updatedAt: _u, seconds: _t, ...rest } = r;
  return rest;
}

describe('eval: runs on xverse-tiny', () => {
  const tiny = loadModel(TINY, { backend: 'typescript' });
  const subjects = ['anatomy', 'high_school_mathematics'];
  const base = { benchmark: 'cmmlu' as const, dataDir: path.join(EVAL, 'cmmlu'), modelName: TINY, subjects, limit: 6 };

  test('the prefix-reuse path and batched passes give the plain path\'s letter probabilities (within 1e-4)', async () => {
    for (const model of [tiny, loadModel(TINY)]) {
      const plain = await runEval(model, tokenizer, { ...base, prefixCache: false });
      for (const variant of [{ prefixCache: true }, { prefixCache: true, batch: 4 }, { prefixCache: false, batch: 3 }]) {
        const other = await runEval(model, tokenizer, { ...base, ...variant });
        let maxDiff = 0;
        plain.subjects.forEach((s, i) => s.questions.forEach((q, j) => q.probs.forEach((p, k) => {
          maxDiff = Math.max(maxDiff, Math.abs(p - other.subjects[i]!.questions[j]!.probs[k]!));
        })));
        assert.ok(maxDiff < 1e-4, `${JSON.stringify(variant)}: max difference ${maxDiff}`);
        assert.deepEqual(other.summary, plain.summary);
      }
    }
  });

  test('an interrupted run, resumed, ends exactly where an uninterrupted one does', async () => {
    const whole = await runEval(tiny, tokenizer, base);
    assert.equal(whole.complete, true);
    assert.equal(whole.summary.overall.questions, 12);
    const controller = new AbortController();
    let partial: EvalResults | undefined;
    const stopped = await runEval(tiny, tokenizer, {
      ...base, signal: controller.signal,
      onProgress: (p) => { if (p.done === 4) controller.abort(); },
      onCheckpoint: (r) => { partial = r; },
    });
    assert.deepEqual([stopped.complete, stopped.summary.overall.questions, stopped.plannedQuestions], [false, 4, 12]);
    assert.ok(partial);
    const resumed = await runEval(tiny, tokenizer, { ...base, resumeFrom: JSON.parse(JSON.stringify(stopped)) as EvalResults });
    assert.deepEqual(stable(resumed), stable(whole));
  });
});

describe('eval: the CLI', () => {
  const dir = tempDir('xverse-eval-');
  const args = (out: string) => ['eval', 'mmlu', '-m', TINY, '--data', path.join(EVAL, 'mmlu'), '--subjects', 'anatomy,astronomy', '--limit', '5', '--out', path.join(dir, out)];

  test('writes JSON, CSV and Markdown; reruns are deterministic; --stop-after then --resume gives the same result', async () => {
    const a = await runCli(args('a.json'));
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^subject +questions +accuracy %\nanatomy +5 +\d+\.\d\d\nastronomy +5 +\d+\.\d\d\n-+\n/);
    assert.match(a.stdout, /\noverall +10 +\d+\.\d\d\n$/);
    const first = readResults(path.join(dir, 'a.json'));
    const csv = fs.readFileSync(path.join(dir, 'a.csv'), 'utf8').split('\n');
    assert.equal(csv[0], 'level,name,questions,correct,accuracy,subject_mean');
    assert.equal(csv.at(-2), `overall,overall,10,${first.summary.overall.correct},${first.summary.overall.accuracy.toFixed(2)},${first.summary.overall.subjectMean.toFixed(2)}`);
    const md = fs.readFileSync(path.join(dir, 'a.md'), 'utf8');
    assert.ok(md.includes(`| **overall** | 10 | **${first.summary.overall.accuracy.toFixed(2)}** |`), md);

    const again = await runCli([...args('b.json')]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(stable(readResults(path.join(dir, 'b.json'))), stable(first));

    const stopped = await runCli([...args('c.json'), '--stop-after', '7']);
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /stopped after 7 of 10 questions; continue with the same command plus --resume/);
    assert.equal(readResults(path.join(dir, 'c.json')).complete, false);
    const resumed = await runCli([...args('c.json'), '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(stable(readResults(path.join(dir, 'c.json'))), stable(first));
    assert.equal(fs.readFileSync(path.join(dir, 'c.md'), 'utf8'), md);
  });

  test('refuses to overwrite a results file, a --resume with other settings, and bad data, in one line each', async () => {
    const exists = await runCli(args('a.json'));
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /a\.json exists: continue it with --resume, or overwrite it with --force\n$/);
    const other = await runCli([...args('a.json'), '--resume', '--shots', '3']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /--resume: the results file was made with shots 5, this run has 3/);
    const missing = await runCli([...args('x.json'), '--subjects', 'anatomy,nonexistent']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no test file for subject\(s\) nonexistent in .*\(it has: abstract_algebra, anatomy/);
    // A corrupted copy of a data file: named with its line, nothing written.
    const data = path.join(dir, 'data');
    fs.cpSync(path.join(EVAL, 'mmlu'), data, { recursive: true });
    const file = path.join(data, 'test/anatomy_test.csv');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[3] = lines[3]!.replace(/,[0-3]\r?$/, ',9');
    fs.writeFileSync(file, lines.join('\n'));
    const bad = await runCli(['eval', 'mmlu', '-m', TINY, '--data', data, '--subjects', 'anatomy', '--out', path.join(dir, 'bad.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^xverse: .*anatomy_test\.csv:4: .*9/);
    assert.equal(fs.existsSync(path.join(dir, 'bad.json')), false);
    const skipped = await runCli(['eval', 'mmlu', '-m', TINY, '--data', data, '--subjects', 'anatomy', '--limit', '4', '--bad-rows', 'skip', '--out', path.join(dir, 'skip.json')]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.deepEqual(readResults(path.join(dir, 'skip.json')).subjects[0]!.questions.map((q) => q.line), [2, 3, 5, 6]);
  });

  test('report renders XVERSE\'s table layout from several runs', async () => {
    const q8 = await runCli([...args('q8.json'), '--quantize', 'q8_0']);
    assert.equal(q8.code, 0, q8.stderr);
    const cm = await runCli(['eval', 'cmmlu', '-m', TINY, '--data', path.join(EVAL, 'cmmlu'), '--subjects', 'anatomy', '--limit', '5', '--out', path.join(dir, 'cm.json')]);
    assert.equal(cm.code, 0, cm.stderr);
    const files = ['a.json', 'q8.json', 'cm.json'].map((f) => path.join(dir, f));
    const [a, q, c] = files.map((f) => readResults(f).summary.overall.accuracy.toFixed(1));
    const res = await runCli(['report', ...files, '--published']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout,
      '| Dataset | Shots | safetensors | safetensors (q8_0) | XVERSE-13B (published) | XVERSE-13B-2 (published) |\n' +
      '|---|---|---:|---:|---:|---:|\n' +
      `| CMMLU | 5-shot | ${c} | – | 59.1 | 66.2 |\n` +
      `| MMLU | 5-shot | ${a} | ${q} | 55.1 | 61.2 |\n` +
      '\nScores: question-weighted accuracy in %.\n');
    const dup = await runCli(['report', files[0]!, path.join(dir, 'b.json')]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /both MMLU 5-shot runs of safetensors; give one/);
    assert.equal(renderReport([{ file: 'x', results: { ...readResults(files[0]!), complete: false } }]).split('\n')[2], `| MMLU | 5-shot | ${a}* |`);
  });
});
