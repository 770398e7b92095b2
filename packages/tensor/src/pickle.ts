/**
 * A restricted unpickler for the pickles PyTorch writes (protocols 2 to 5). It builds plain data only:
 * numbers, strings, bytes, lists, tuples, dicts, and records of the few globals it allows. Every other
 * global is refused when the GLOBAL / STACK_GLOBAL opcode names it, before anything could call it;
 * nothing is ever executed or imported. Throws {@link TorchCheckpointError} on any fault.
 */
import { TorchCheckpointError } from './errors';

/** A Python global the unpickler allowed (`module.name`), kept as a record. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python tuple (kept apart from lists so persistent ids can be told from data). */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python dict (or `collections.OrderedDict`), in insertion order. Keys are strings, numbers or null. */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
}

/** An object of a TorchScript class (`__torch__.*`): its class name and the attributes BUILD gave it. */
export class ScriptObject {
  attributes: PyDict | undefined;
  constructor(readonly className: string) {}
}

/** What a REDUCE of an allowed global returns: decided by the caller (e.g. a tensor record). */
export type PyKey = string | number | bigint | boolean | null;
export type PyValue = PyKey | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | ScriptObject | { readonly kind: string };

/** What the caller supplies: which globals exist, how to call them, and persistent ids. */
export interface UnpicklerHooks {
  /** Returns the global when it is allowed, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): PyGlobal | undefined;
  /** Applies an allowed global (REDUCE, NEWOBJ). */
  call(fn: PyGlobal, args: readonly PyValue[]): PyValue;
  /** Resolves a persistent id (BINPERSID). */
  persistentLoad(pid: PyValue): PyValue;
}

/** The result of one pickle: its value and where it ended. */
export interface Unpickled {
  value: PyValue;
  end: number;
}

/** The largest memo / stack the unpickler accepts (far above what a checkpoint needs). */
const MAX_ITEMS = 50_000_000;

/**
 * Unpickles the pickle starting at `start` of `bytes`.
 * @param file label for error messages
 */
export function unpickle(bytes: Uint8Array, hooks: UnpicklerHooks, file: string, start = 0): Unpickled {
  const fail = (fault: string): never => {
    throw new TorchCheckpointError(file, `pickle: ${fault}`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let p = start;
  const need = (n: number, what: string): void => {
    if (n < 0 || p + n > bytes.length) fail(`${what} at byte ${p} runs past the end of the data (${bytes.length} bytes)`);
  };
  const u8 = (): number => {
    need(1, 'opcode argument');
    return bytes[p++]!;
  };
  const u16 = (): number => {
    need(2, 'opcode argument');
    const v = dv.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4, 'opcode argument');
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    need(8, 'opcode argument');
    const v = dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 4294967296;
    p += 8;
    if (!Number.isSafeInteger(v)) fail('an 8-byte length is too large');
    return v;
  };
  const take = (n: number, what: string): Uint8Array => {
    need(n, what);
    const b = bytes.subarray(p, p + n);
    p += n;
    return b;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) fail(`${what} has no end of line`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const push = (v: PyValue): void => {
    if (stack.length >= MAX_ITEMS) fail('the stack grew too large');
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    return stack.splice(m!);
  };
  const global = (module: string, name: string): PyGlobal => {
    const g = hooks.resolveGlobal(module, name);
    if (!g)
      throw new TorchCheckpointError(
        file,
        `pickle global ${module}.${name} is not allowed (only tensor rebuilding, storages and plain containers are); nothing was executed`,
        `${module}.${name}`,
      );
    return g;
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) fail(`memo entry ${i} is read before it is written`);
    return memo.get(i)!;
  };
  const memoPut = (i: number): void => {
    if (memo.size >= MAX_ITEMS) fail('the memo grew too large');
    memo.set(i, top());
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i]!;
      if (!(k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k))) fail(`a dict key of type ${describe(k)} is not supported`);
      (target as PyDict).map.set(k as PyKey, items[i + 1]!);
    }
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target)) fail('APPEND(S) on something that is not a list');
    for (const it of items) (target as PyValue[]).push(it);
  };
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    if (p >= bytes.length) fail('the data ends before the STOP opcode');
    const op = bytes[p++]!;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail(`STOP with ${stack.length} items on the stack`);
        return { value: stack[0]!, end: p };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length > 0 && marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        need(4, 'BININT');
        push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(long(take(u8(), 'LONG1')));
        break;
      case 0x8b: // LONG4
        push(long(take(u32(), 'LONG4')));
        break;
      case 0x47: // BINFLOAT
        need(8, 'BINFLOAT');
        push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x49: {
        // INT (protocol 0): 01 / 00 are True / False
        const s = line('INT');
        if (s === '01' || s === '00') push(s === '01');
        else {
          if (!/^[-+]?\d+$/.test(s)) fail(`INT ${JSON.stringify(s)} is not an integer`);
          push(Number(s));
        }
        break;
      }
      case 0x58: // BINUNICODE
        push(utf8(take(u32(), 'BINUNICODE')));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(utf8(take(u8(), 'SHORT_BINUNICODE')));
        break;
      case 0x8d: // BINUNICODE8
        push(utf8(take(u64(), 'BINUNICODE8')));
        break;
      case 0x54: // BINSTRING
        push(new TextDecoder('latin1').decode(take(u32(), 'BINSTRING')));
        break;
      case 0x55: // SHORT_BINSTRING
        push(new TextDecoder('latin1').decode(take(u8(), 'SHORT_BINSTRING')));
        break;
      case 0x42: // BINBYTES
        push(take(u32(), 'BINBYTES').slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(take(u8(), 'SHORT_BINBYTES').slice());
        break;
      case 0x8e: // BINBYTES8
        push(take(u64(), 'BINBYTES8').slice());
        break;
      case 0x96: // BYTEARRAY8
        push(take(u64(), 'BYTEARRAY8').slice());
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x8f: // EMPTY_SET
        push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL
        const module = line('GLOBAL module');
        const name = line('GLOBAL name');
        push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(global(module as string, name as string));
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail(`REDUCE of ${describe(fn)}, which is not an allowed global`);
        if (!(args instanceof PyTuple)) fail('REDUCE arguments are not a tuple');
        push(hooks.call(fn as PyGlobal, (args as PyTuple).items));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyGlobal)) fail(`NEWOBJ of ${describe(cls)}, which is not an allowed class`);
        if (!(args instanceof PyTuple)) fail('NEWOBJ arguments are not a tuple');
        push(hooks.call(cls as PyGlobal, (args as PyTuple).items));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof ScriptObject) {
          if (!(state instanceof PyDict)) fail(`BUILD of ${obj.className} with a state that is not a dict`);
          obj.attributes = state as PyDict;
        }
        // Dicts (OrderedDict `_metadata`) and tensors keep no state: ignored, never applied.
        break;
      }
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1} is not supported`);
    }
  }
}

/** A short description of a value's type for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof ScriptObject) return `an object of ${v.className}`;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object' && v !== null && 'kind' in v) return `a ${(v as { kind: string }).kind}`;
  return `a ${typeof v}`;
}
