import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { PickleDict, PickleTuple, unpickle, type PickleValue, type UnpickleOptions } from '../../src/formats/pickle.js';
import { torchAllowedGlobals, TorchBinFile } from '../../src/formats/torch-bin.js';
import { tempDir } from '../helpers/fixtures.js';
import { expectFormatError } from '../helpers/format-errors.js';
import { PickleBuilder, stateDictPickle, type PickledTensor } from '../helpers/pickle-builder.js';
import { writeTorchArchive } from '../helpers/torch-zip.js';

const dir = tempDir('xverse-pickle-');
const plain: UnpickleOptions = { where: 'test.pkl', globals: new Map() };
const run = (p: PickleBuilder, options: UnpickleOptions = plain): PickleValue => unpickle(p.bytes(), options);

test('scalars, strings, tuples, lists, dicts and the memo decode to exact values', () => {
  const p = new PickleBuilder().proto(4).frame(0).mark()
    .int(7).int(300).int(70000).int(-5).long1(-129n).long1(2n ** 70n).long1(0n)
    .binfloat(-1.5).none().bool(true).bool(false)
    .str('héllo').shortStr('ab').binput(3).binget(3)
    .int(1).int(2).tuple2().emptyTuple()
    .emptyList().int(9).append().mark().int(10).int(11).appends()
    .emptyDict().str('k').int(1).setitem().memoize().longBinput(0xffffffff).longBinget(0xffffffff)
    .tuple().stop();
  const v = run(p);
  assert.ok(v instanceof PickleTuple);
  const [i7, i300, i70000, m5, m129, big, zero, f, n, t, fa, s, ab, ab2, pair, empty, list, dict, dict2] = v.items;
  assert.deepEqual([i7, i300, i70000, m5, m129, big, zero, f, n, t, fa, s, ab, ab2], [7, 300, 70000, -5, -129, 2n ** 70n, 0, -1.5, null, true, false, 'héllo', 'ab', 'ab']);
  assert.deepEqual((pair as PickleTuple).items, [1, 2]);
  assert.deepEqual((empty as PickleTuple).items, []);
  assert.deepEqual(list, [9, 10, 11]);
  assert.ok(dict instanceof PickleDict);
  assert.deepEqual([...dict.map], [['k', 1]]);
  assert.equal(dict2, dict, 'memo returns the same object');
});

const STORAGE: PickledTensor = { name: 'w', storageClass: 'FloatStorage', key: '0', storageNumel: 4, offset: 0, shape: [2, 2] };
const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** Wraps a pickle in a torch-style archive and opens it. */
function openPickle(pickle: Uint8Array, name = 'evil'): () => TorchBinFile {
  const file = writeTorchArchive(path.join(dir, `${name}.bin`), { pickle, storages: { 0: f32Bytes([1, 2, 3, 4]) } });
  return () => TorchBinFile.open(file);
}

test('the allow-list is exactly the globals a state_dict needs (widening it must be deliberate)', () => {
  assert.deepEqual(torchAllowedGlobals(), [
    'collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter',
    'torch.BFloat16Storage', 'torch.HalfStorage', 'torch.FloatStorage', 'torch.DoubleStorage', 'torch.LongStorage', 'torch.IntStorage',
    'torch.ShortStorage', 'torch.CharStorage', 'torch.ByteStorage', 'torch.BoolStorage', 'torch.ComplexFloatStorage', 'torch.ComplexDoubleStorage',
  ]);
});

test('GLOBAL / STACK_GLOBAL of anything outside the state_dict allow-list is refused, naming the global', () => {
  const cases: Array<[string, PickleBuilder]> = [
    ['os.system', new PickleBuilder().proto(2).global('os', 'system').str('touch /tmp/pwned').tuple1().reduce().stop()],
    ['builtins.eval', new PickleBuilder().proto(4).stackGlobalOf('builtins', 'eval').str('1+1').tuple1().reduce().stop()],
    ['subprocess.Popen', new PickleBuilder().proto(2).global('subprocess', 'Popen').str('sh').tuple1().reduce().stop()],
    ['posix.system', new PickleBuilder().proto(4).stackGlobalOf('posix', 'system').str('id').tuple1().reduce().stop()],
    ['builtins.getattr', new PickleBuilder().proto(2).global('builtins', 'getattr').stop()],
    // Only the named torch globals are allowed, not the torch namespace.
    ['torch.storage._load_from_bytes', new PickleBuilder().proto(2).global('torch.storage', '_load_from_bytes').stop()],
    // Protocol 0's INST names a class too.
    ['os.system', new PickleBuilder().proto(2).mark().str('id').raw(0x69, ...Buffer.from('os\nsystem\n')).stop()],
  ];
  cases.forEach(([global, p], i) => {
    const err = expectFormatError(openPickle(p.bytes(), `evil${i}`), /evil\d\.bin: archive\/data\.pkl: refuses global "[^"]+" \(only state_dict globals are allowed\) \(pickle offset \d+\)/);
    assert.ok(err.message.includes(`refuses global "${global}"`), err.message);
  });
});

test('a hostile global nested inside an otherwise valid state_dict is refused where it is read', () => {
  const pickle = stateDictPickle([STORAGE], (p) => {
    // "extra": a plausible key whose value is os.system("…") buried in a tuple.
    p.str('model.layers.0.mlp.gate_proj.weight').mark().int(1).global('os', 'system').str('id').tuple1().reduce().tuple();
  });
  const offset = Buffer.from(pickle).indexOf(Buffer.from('cos\nsystem'));
  expectFormatError(openPickle(pickle, 'nested'), new RegExp(`refuses global "os\\.system" .*\\(pickle offset ${offset}\\)`));
});

test('allowed globals cannot be called with odd arguments', () => {
  const p = new PickleBuilder().proto(2).global('collections', 'OrderedDict').str('x').tuple1().reduce().stop();
  expectFormatError(openPickle(p.bytes(), 'od-args'), /collections\.OrderedDict is only allowed with no arguments/);
  const q = new PickleBuilder().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce().stop();
  expectFormatError(openPickle(q.bytes(), 'storage-call'), /torch\.FloatStorage cannot be called here/);
  const r = new PickleBuilder().proto(2).global('torch._utils', '_rebuild_tensor_v2').int(1).int(2).tuple2().reduce().stop();
  expectFormatError(openPickle(r.bytes(), 'rebuild-args'), /_rebuild_tensor_v2 expects 6 or 7 arguments, got 2/);
});

test('hostile structure fails fast with a one-line error: memo, nesting, lengths, truncation, unknown opcodes', () => {
  const manyMarks = new PickleBuilder().proto(2);
  for (let i = 0; i < 100_000; i++) manyMarks.mark();
  expectFormatError(() => run(manyMarks.stop()), /test\.pkl: more than 1000 nested MARKs \(pickle offset 1002\)/);

  const nestedTuples = new PickleBuilder().proto(2).int(0);
  for (let i = 0; i < 100_000; i++) nestedTuples.tuple1();
  expectFormatError(() => run(nestedTuples.stop()), /containers nested deeper than 1000/);

  // Lists nested through the memo: each new list holds the previous one.
  const nestedLists = new PickleBuilder().proto(2).emptyList().binput(0);
  for (let i = 0; i < 100_000; i++) nestedLists.emptyList().binget(0).append().binput(0);
  expectFormatError(() => run(nestedLists.stop()), /containers nested deeper than 1000/);

  expectFormatError(() => run(new PickleBuilder().proto(2).longBinget(0xffffffff).stop()), /memo index 4294967295 was never stored \(pickle offset 2\)/);
  const manyMemo = new PickleBuilder().proto(2).none();
  for (let i = 0; i < 20; i++) manyMemo.longBinput(0xfffffff0 + i);
  expectFormatError(() => run(manyMemo.stop(), { ...plain, limits: { maxMemo: 10 } }), /more than 10 memo entries/);

  expectFormatError(() => run(new PickleBuilder().proto(2).str('abc', 0xffffffff).stop()), /needs 4294967295 bytes but only 4 are left \(truncated pickle\)/);
  expectFormatError(() => run(new PickleBuilder().proto(4).raw(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).stop()), /needs \d+ bytes but only 1 are left/);
  expectFormatError(() => run(new PickleBuilder().proto(4).frame(1e9).stop()), /FRAME claims more bytes than are left/);
  expectFormatError(() => run(new PickleBuilder().proto(2).raw(0x8b, 0, 0, 0, 0x40).stop()), /integer of 1073741824 bytes exceeds the 64-byte limit/);
  expectFormatError(() => run(new PickleBuilder().proto(2).none().raw(0xff).stop()), /unknown opcode 0xff \(not a pickle, or corrupt\) \(pickle offset 3\)/);
  expectFormatError(() => run(new PickleBuilder().proto(2).raw(0x70, 0x31, 0x0a).stop()), /unsupported opcode PUT \(0x70 'p'\)/);
  expectFormatError(() => run(new PickleBuilder().proto(9)), /pickle protocol 9 is newer than the 5/);
  expectFormatError(() => run(new PickleBuilder().proto(2).reduce()), /stack underflow \(pickle offset 2\)/);
  expectFormatError(() => run(new PickleBuilder().proto(2).none().setitem()), /stack underflow/);
  expectFormatError(() => run(new PickleBuilder().proto(2).emptyList().str('k').int(1).setitem()), /SETITEM\(S\) on a list, not a dict/);
  expectFormatError(() => run(new PickleBuilder().proto(2).none().emptyTuple().reduce()), /REDUCE on None, which is not an allowed callable/);
  expectFormatError(() => run(new PickleBuilder().proto(2).str('x').binpersid()), /persistent ids \(BINPERSID\) are not allowed here/);

  const wide = new PickleBuilder().proto(2).mark();
  for (let i = 0; i < 2000; i++) wide.none();
  expectFormatError(() => run(wide.tuple().stop(), { ...plain, limits: { maxStack: 1000 } }), /stack deeper than 1000 values/);
  expectFormatError(() => run(wide.stop(), { ...plain, limits: { maxObjects: 500 } }), /more than 500 objects/);
});

test('every truncation of a valid state_dict pickle is an error, never a value or a hang', () => {
  const pickle = stateDictPickle([STORAGE, { ...STORAGE, name: 'v', offset: 2, shape: [2] }]);
  assert.ok(openPickle(pickle, 'whole')().tensors.size === 2);
  const started = performance.now();
  for (let cut = 0; cut < pickle.length; cut++) {
    expectFormatError(openPickle(pickle.subarray(0, cut), 'cut'), /cut\.bin: (archive\/data\.pkl: .*(truncated|STOP|stack underflow|MARK|needs|GLOBAL)|.*no tensors)/);
  }
  assert.ok(performance.now() - started < 5000);
});
