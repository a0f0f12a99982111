/**
 * Writes pickle bytes opcode by opcode, so tests can build both what torch.save writes and hostile
 * programs no honest pickler would emit. Opcode values are from Python's pickle protocol (PEP 307,
 * 3154); each method appends one opcode and returns `this`.
 */
export class PickleBuilder {
  private readonly parts: number[] = [];

  private op(code: number, ...payload: number[]): this {
    this.parts.push(code, ...payload);
    return this;
  }
  private le(value: number, bytes: number): number[] {
    const out: number[] = [];
    let v = BigInt(value);
    for (let i = 0; i < bytes; i++) {
      out.push(Number(v & 0xffn));
      v >>= 8n;
    }
    return out;
  }

  proto(version = 2): this { return this.op(0x80, version); }
  stop(): this { return this.op(0x2e); }
  mark(): this { return this.op(0x28); }
  emptyTuple(): this { return this.op(0x29); }
  emptyDict(): this { return this.op(0x7d); }
  emptyList(): this { return this.op(0x5d); }
  tuple(): this { return this.op(0x74); }
  tuple1(): this { return this.op(0x85); }
  tuple2(): this { return this.op(0x86); }
  tuple3(): this { return this.op(0x87); }
  none(): this { return this.op(0x4e); }
  bool(v: boolean): this { return this.op(v ? 0x88 : 0x89); }
  reduce(): this { return this.op(0x52); }
  build(): this { return this.op(0x62); }
  newobj(): this { return this.op(0x81); }
  binpersid(): this { return this.op(0x51); }
  setitem(): this { return this.op(0x73); }
  setitems(): this { return this.op(0x75); }
  append(): this { return this.op(0x61); }
  appends(): this { return this.op(0x65); }
  pop(): this { return this.op(0x30); }
  dup(): this { return this.op(0x32); }
  memoize(): this { return this.op(0x94); }
  stackGlobal(): this { return this.op(0x93); }
  binput(i: number): this { return this.op(0x71, i); }
  longBinput(i: number): this { return this.op(0x72, ...this.le(i, 4)); }
  binget(i: number): this { return this.op(0x68, i); }
  longBinget(i: number): this { return this.op(0x6a, ...this.le(i, 4)); }
  frame(length: number): this { return this.op(0x95, ...this.le(length, 8)); }
  binfloat(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.op(0x47, ...b);
  }

  /** The smallest integer opcode torch's pickler would pick (BININT1/BININT2/BININT, else LONG1). */
  int(v: number): this {
    if (v >= 0 && v < 0x100) return this.op(0x4b, v);
    if (v >= 0 && v < 0x10000) return this.op(0x4d, ...this.le(v, 2));
    if (v >= -0x80000000 && v < 0x80000000) return this.op(0x4a, ...this.le(v >>> 0, 4));
    return this.long1(BigInt(v));
  }
  /** LONG1: little-endian two's complement in the fewest bytes (0 → no bytes, as Python writes it). */
  long1(v: bigint): this {
    const bytes: number[] = [];
    let x = v;
    while (x !== 0n) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n; // arithmetic: negative values end at -1
      const sign = bytes[bytes.length - 1]! & 0x80;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    return this.op(0x8a, bytes.length, ...bytes);
  }
  /** BINUNICODE (4-byte length), or a given raw length to forge a lying header. */
  str(s: string, claimedLength?: number): this {
    const b = Buffer.from(s, 'utf8');
    return this.op(0x58, ...this.le(claimedLength ?? b.length, 4), ...b);
  }
  shortStr(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.op(0x8c, b.length, ...b);
  }
  /** GLOBAL "module\nname\n" (protocol 2, what torch 1.13 writes). */
  global(module: string, name: string): this {
    return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  /** STACK_GLOBAL via two short strings (protocol 4). */
  stackGlobalOf(module: string, name: string): this {
    return this.shortStr(module).shortStr(name).stackGlobal();
  }
  raw(...bytes: number[]): this { return this.op(bytes[0]!, ...bytes.slice(1)); }
  /** Appends opcodes built elsewhere. */
  concat(other: PickleBuilder): this {
    for (const b of other.bytes()) this.parts.push(b);
    return this;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One tensor of a state_dict as torch.save pickles it. */
export interface PickledTensor {
  name: string;
  /** torch storage class, e.g. "BFloat16Storage". */
  storageClass: string;
  /** Storage key: the zip entry is <prefix>/data/<key>. */
  key: string;
  /** Elements in the whole storage. */
  storageNumel: number;
  offset: number;
  shape: number[];
  stride?: number[];
}

/** Row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
}

function intTuple(p: PickleBuilder, values: readonly number[]): void {
  if (values.length === 1) p.int(values[0]!).tuple1();
  else if (values.length === 2) p.int(values[0]!).int(values[1]!).tuple2();
  else {
    p.mark();
    for (const v of values) p.int(v);
    p.tuple();
  }
}

/**
 * The opcodes torch.save (protocol 2) writes for `OrderedDict(name → tensor)`, without memo ops.
 * `extra(p)` may push more key/value pairs inside the same SETITEMS (e.g. a hostile value).
 */
export function stateDictPickle(tensors: readonly PickledTensor[], extra?: (p: PickleBuilder) => void): Uint8Array {
  const p = new PickleBuilder().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    p.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', t.storageClass).str(t.key).str('cpu').int(t.storageNumel).tuple().binpersid();
    p.int(t.offset);
    intTuple(p, t.shape);
    intTuple(p, t.stride ?? contiguousStrides(t.shape));
    p.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  extra?.(p);
  return p.setitems().stop().bytes();
}
