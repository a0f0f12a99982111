import { FormatError } from '../errors.js';

/**
 * A restricted reader for Python pickles (protocols 2–5), enough for a PyTorch state_dict and
 * nothing more. A pickle is a program for a stack machine whose GLOBAL opcodes name arbitrary Python
 * callables (`os.system`…); here they resolve only through the caller's allow-list, checked the
 * moment the opcode is read, and an allowed "callable" is a TypeScript function that builds a plain
 * value. Nothing from the file is ever executed. Stack, nesting, memo and object counts are bounded,
 * and every length is checked against the bytes left, so hostile input fails fast with one line.
 */

/** What a pickle can build here. Lists are arrays; tuples, dicts and globals have their own classes. */
export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleValue[] | PickleTuple | PickleDict | PickleGlobal | PickleObject;

export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A dict or OrderedDict (insertion order kept); `attributes` receives BUILD state (torch's `_metadata`). */
export class PickleDict {
  readonly map = new Map<PickleValue, PickleValue>();
  attributes: PickleValue = null;
}

/** Values that allowed globals build (tensor references, storage types…); subclasses live with their global. */
export abstract class PickleObject {
  /** Short description for error messages, e.g. "torch.BFloat16Storage". */
  abstract describe(): string;
}

/** What an allow-listed global does when the pickle calls it (REDUCE / NEWOBJ) or only names it. */
export interface AllowedGlobal {
  /** Builds the result from the argument tuple's items; absent = the global may only be passed around. */
  readonly call?: (args: readonly PickleValue[]) => PickleValue;
  /** What the global stands for when only passed around (e.g. a storage type inside a persistent id). */
  readonly value?: PickleObject;
}

/** A resolved, allow-listed global on the stack. */
export class PickleGlobal {
  constructor(readonly qualifiedName: string, readonly impl: AllowedGlobal) {}
}

/** Thrown by allowed globals and persistent_load on bad arguments; reported with the file and offset. */
export class PickleValueError extends Error {}

export interface PickleLimits {
  /** Values on the stack at once (torch batches SETITEMS by 1,000 pairs). */
  maxStack: number;
  /** Open MARKs, and nesting depth of tuples/lists/dicts. */
  maxDepth: number;
  /** Memo entries (indices themselves may be any u32: the memo is a sparse map). */
  maxMemo: number;
  /** Values created in all. */
  maxObjects: number;
  /** LONG4 / LONG1 byte lengths. */
  maxLongBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = {
  maxStack: 1_000_000, maxDepth: 1000, maxMemo: 1_000_000, maxObjects: 10_000_000, maxLongBytes: 64,
};

export interface UnpickleOptions {
  /** Names the pickle in messages, e.g. "model.bin: archive/data.pkl". */
  readonly where: string;
  /** Allowed globals by "module.name"; anything else is refused. */
  readonly globals: ReadonlyMap<string, AllowedGlobal>;
  /** Resolves BINPERSID ids (torch: storage references); absent = persistent ids are refused. */
  readonly persistentLoad?: (pid: PickleValue) => PickleValue;
  readonly limits?: Partial<PickleLimits>;
}

/** Opcode byte → name, for messages (also those we know but do not support). */
const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Longest module or attribute name a GLOBAL line may hold. */
const MAX_GLOBAL_LINE = 1024;

/** Runs the pickle in `bytes` under the restrictions above and returns the value STOP leaves. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private pos = 0;
  /** Offset of the opcode being run, for messages. */
  private op = 0;
  private readonly stack: PickleValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  /** Nesting depth of containers built so far (absent = 0). */
  private readonly depth = new WeakMap<object, number>();
  private objects = 0;
  private readonly limits: PickleLimits;
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly bytes: Uint8Array, private readonly options: UnpickleOptions) {
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(message: string): FormatError {
    return new FormatError(`${this.options.where}: ${message} (pickle offset ${this.op})`);
  }

  run(): PickleValue {
    while (this.pos < this.bytes.length) {
      this.op = this.pos;
      const code = this.bytes[this.pos++]!;
      if (code === 0x2e) { // STOP
        if (this.stack.length === 0) throw this.fail('STOP with an empty stack');
        return this.stack.pop()!;
      }
      try {
        this.step(code);
      } catch (err) {
        if (err instanceof PickleValueError) throw this.fail(err.message);
        throw err;
      }
    }
    throw new FormatError(`${this.options.where}: pickle is truncated: ${this.bytes.length} bytes end without a STOP opcode`);
  }

  private step(code: number): void {
    switch (code) {
      case 0x80: { // PROTO
        const v = this.u8();
        if (v > 5) throw this.fail(`pickle protocol ${v} is newer than the 5 this reader knows`);
        return;
      }
      case 0x95: // FRAME: a length hint over bytes we already hold; only check it.
        if (this.u64() > this.bytes.length - this.pos) throw this.fail('FRAME claims more bytes than are left (truncated pickle)');
        return;
      case 0x7d: return this.push(new PickleDict());
      case 0x5d: return this.push([]);
      case 0x29: return this.push(new PickleTuple([]));
      case 0x28: // MARK
        if (this.marks.length >= this.limits.maxDepth) throw this.fail(`more than ${this.limits.maxDepth} nested MARKs`);
        this.marks.push(this.stack.length);
        return;
      case 0x58: return this.push(this.text(this.u32()));
      case 0x8c: return this.push(this.text(this.u8()));
      case 0x8d: return this.push(this.text(this.u64()));
      case 0x43: return this.push(this.take(this.u8()).slice());
      case 0x42: return this.push(this.take(this.u32()).slice());
      case 0x8e: return this.push(this.take(this.u64()).slice());
      case 0x4a: { const v = this.view.getInt32(this.need(4), true); return this.push(v); }
      case 0x4b: return this.push(this.u8());
      case 0x4d: { const v = this.view.getUint16(this.need(2), true); return this.push(v); }
      case 0x8a: return this.push(this.long(this.u8()));
      case 0x8b: return this.push(this.long(this.u32()));
      case 0x4e: return this.push(null);
      case 0x88: return this.push(true);
      case 0x89: return this.push(false);
      case 0x47: { const v = this.view.getFloat64(this.need(8), false); return this.push(v); }
      case 0x85: return this.push(this.tuple(this.popN(1)));
      case 0x86: return this.push(this.tuple(this.popN(2)));
      case 0x87: return this.push(this.tuple(this.popN(3)));
      case 0x74: return this.push(this.tuple(this.popMark()));
      case 0x73: { // SETITEM
        const [key, value] = this.popN(2) as [PickleValue, PickleValue];
        this.setItems(this.top(), [key, value]);
        return;
      }
      case 0x75: { // SETITEMS
        const items = this.popMark();
        if (items.length % 2 !== 0) throw this.fail(`SETITEMS with an odd number (${items.length}) of keys and values`);
        this.setItems(this.top(), items);
        return;
      }
      case 0x61: { const item = this.popN(1); this.append(this.top(), item); return; } // APPEND: the list lies below the item
      case 0x65: { const items = this.popMark(); this.append(this.top(), items); return; } // APPENDS
      case 0x71: return this.put(this.u8());
      case 0x72: return this.put(this.u32());
      case 0x94: return this.put(this.memo.size);
      case 0x68: return this.get(this.u8());
      case 0x6a: return this.get(this.u32());
      case 0x63: { // GLOBAL "module\nname\n"
        const module = this.line();
        const name = this.line();
        return this.push(this.resolve(module, name));
      }
      case 0x93: { // STACK_GLOBAL
        const [module, name] = this.popN(2);
        if (typeof module !== 'string' || typeof name !== 'string') throw this.fail('STACK_GLOBAL needs two strings (module, name)');
        return this.push(this.resolve(module, name));
      }
      case 0x69: { // INST: protocol 0 class + call; refused like any global, and unsupported even when allowed.
        this.resolve(this.line(), this.line());
        throw this.fail('unsupported opcode INST (protocol 0)');
      }
      case 0x52: { // REDUCE
        const [callable, args] = this.popN(2);
        return this.push(this.call(callable!, args!, 'REDUCE'));
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const [cls, args] = this.popN(2);
        return this.push(this.call(cls!, args!, 'NEWOBJ'));
      }
      case 0x92: { // NEWOBJ_EX
        const [cls, args, kwargs] = this.popN(3);
        if (!(kwargs instanceof PickleDict) || kwargs.map.size > 0) throw this.fail('NEWOBJ_EX with keyword arguments is not supported');
        return this.push(this.call(cls!, args!, 'NEWOBJ_EX'));
      }
      case 0x62: { // BUILD: obj.__setstate__(state)
        const [state] = this.popN(1);
        const obj = this.top();
        if (obj instanceof PickleDict) obj.attributes = state!;
        else if (!(state === null || (state instanceof PickleDict && state.map.size === 0))) {
          throw this.fail(`BUILD with state on ${describe(obj)} is not supported`);
        }
        return;
      }
      case 0x51: { // BINPERSID
        const [pid] = this.popN(1);
        if (!this.options.persistentLoad) throw this.fail('persistent ids (BINPERSID) are not allowed here');
        return this.push(this.options.persistentLoad(pid!));
      }
      case 0x30: // POP (a bare MARK when nothing was pushed after it)
        if (this.stack.length > (this.marks[this.marks.length - 1] ?? 0)) this.stack.pop();
        else if (this.marks.length > 0) this.marks.pop();
        else throw this.fail('POP with an empty stack');
        return;
      case 0x31: this.popMark(); return; // POP_MARK
      case 0x32: return this.pushExisting(this.top()); // DUP
      default: {
        const name = OPCODE_NAMES[code];
        const printable = code >= 0x20 && code < 0x7f ? ` '${String.fromCharCode(code)}'` : '';
        throw this.fail(name
          ? `unsupported opcode ${name} (0x${code.toString(16)}${printable}); only the opcodes of a torch.save state_dict are allowed`
          : `unknown opcode 0x${code.toString(16).padStart(2, '0')}${printable} (not a pickle, or corrupt)`);
      }
    }
  }

  // ---- reading bytes -------------------------------------------------------------------------

  /** Reserves `n` bytes and returns where they start. */
  private need(n: number): number {
    const left = this.bytes.length - this.pos;
    if (n > left) throw this.fail(`needs ${n} bytes but only ${left} are left (truncated pickle)`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  private take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  private u8(): number { return this.bytes[this.need(1)]!; }
  private u32(): number { return this.view.getUint32(this.need(4), true); }
  private u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    // Anything past the pickle's own length fails in need(); clamp so the comparison stays exact.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  private text(n: number): string {
    const bytes = this.take(n);
    try {
      return this.utf8.decode(bytes);
    } catch {
      throw this.fail('string is not valid UTF-8');
    }
  }
  /** A little-endian two's-complement integer of n bytes (LONG1 / LONG4). */
  private long(n: number): number | bigint {
    if (n > this.limits.maxLongBytes) throw this.fail(`integer of ${n} bytes exceeds the ${this.limits.maxLongBytes}-byte limit`);
    const bytes = this.take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (n > 0 && bytes[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  /** One newline-terminated ASCII line of GLOBAL/INST. */
  private line(): string {
    const end = Math.min(this.bytes.length, this.pos + MAX_GLOBAL_LINE + 1);
    for (let i = this.pos; i < end; i++) {
      if (this.bytes[i] === 0x0a) {
        const s = String.fromCharCode(...this.bytes.subarray(this.pos, i));
        this.pos = i + 1;
        return s;
      }
    }
    throw this.fail(end === this.bytes.length ? 'GLOBAL name runs past the end (truncated pickle)' : `GLOBAL name longer than ${MAX_GLOBAL_LINE} characters`);
  }

  // ---- the stack -----------------------------------------------------------------------------

  private push(value: PickleValue): void {
    if (++this.objects > this.limits.maxObjects) throw this.fail(`more than ${this.limits.maxObjects} objects`);
    this.pushExisting(value);
  }
  private pushExisting(value: PickleValue): void {
    if (this.stack.length >= this.limits.maxStack) throw this.fail(`stack deeper than ${this.limits.maxStack} values`);
    this.stack.push(value);
  }
  /** The top value, which must lie above the innermost MARK. */
  private top(): PickleValue {
    if (this.stack.length <= (this.marks[this.marks.length - 1] ?? 0)) throw this.fail('stack underflow');
    return this.stack[this.stack.length - 1]!;
  }
  private popN(n: number): PickleValue[] {
    if (this.stack.length - n < (this.marks[this.marks.length - 1] ?? 0)) throw this.fail('stack underflow');
    return this.stack.splice(this.stack.length - n, n);
  }
  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.fail('no MARK to pop to');
    return this.stack.splice(mark);
  }

  // ---- memo ----------------------------------------------------------------------------------

  private put(index: number): void {
    const value = this.top();
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) throw this.fail(`more than ${this.limits.maxMemo} memo entries`);
    this.memo.set(index, value);
  }
  private get(index: number): void {
    if (!this.memo.has(index)) throw this.fail(`memo index ${index} was never stored`);
    this.pushExisting(this.memo.get(index)!);
  }

  // ---- containers ----------------------------------------------------------------------------

  private depthOf(value: PickleValue): number {
    return typeof value === 'object' && value !== null ? this.depth.get(value) ?? 0 : 0;
  }
  /** Records that `container` now holds `items`; refuses nesting past the limit. */
  private nest(container: object, items: readonly PickleValue[]): void {
    let d = this.depth.get(container) ?? 1;
    for (const item of items) d = Math.max(d, this.depthOf(item) + 1);
    if (d > this.limits.maxDepth) throw this.fail(`containers nested deeper than ${this.limits.maxDepth}`);
    this.depth.set(container, d);
  }
  private tuple(items: PickleValue[]): PickleTuple {
    const t = new PickleTuple(items);
    this.nest(t, items);
    return t;
  }
  private setItems(target: PickleValue, items: readonly PickleValue[]): void {
    if (!(target instanceof PickleDict)) throw this.fail(`SETITEM(S) on ${describe(target)}, not a dict`);
    this.nest(target, items);
    for (let i = 0; i < items.length; i += 2) target.map.set(items[i]!, items[i + 1]!);
  }
  private append(target: PickleValue, items: readonly PickleValue[]): void {
    if (!Array.isArray(target)) throw this.fail(`APPEND(S) on ${describe(target)}, not a list`);
    this.nest(target, items);
    for (const item of items) target.push(item);
  }

  // ---- globals -------------------------------------------------------------------------------

  private resolve(module: string, name: string): PickleGlobal {
    const qualified = `${module}.${name}`;
    const impl = this.options.globals.get(qualified);
    if (!impl) throw this.fail(`refuses global "${qualified}" (only state_dict globals are allowed)`);
    return new PickleGlobal(qualified, impl);
  }

  private call(callable: PickleValue, args: PickleValue, opcode: string): PickleValue {
    if (!(callable instanceof PickleGlobal)) throw this.fail(`${opcode} on ${describe(callable)}, which is not an allowed callable`);
    if (!(args instanceof PickleTuple)) throw this.fail(`${opcode} of ${callable.qualifiedName} needs an argument tuple, got ${describe(args)}`);
    if (!callable.impl.call) throw this.fail(`${callable.qualifiedName} cannot be called here`);
    return callable.impl.call(args.items);
  }
}

/** A short type description of a value (never its contents: they may be huge or cyclic). */
export function describe(value: PickleValue): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PickleTuple) return `a ${value.items.length}-tuple`;
  if (value instanceof PickleDict) return 'a dict';
  if (value instanceof PickleGlobal) return value.qualifiedName;
  if (value instanceof PickleObject) return value.describe();
  if (typeof value === 'number' || typeof value === 'bigint') return Number.isInteger(value) || typeof value === 'bigint' ? 'an int' : 'a float';
  return typeof value === 'string' ? 'a string' : 'a bool';
}
