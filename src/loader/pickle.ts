import { ModelFormatError } from '../errors.js';
import { WHOLE_MODEL_REMEDY } from './remedies.js';

/**
 * A restricted unpickler for PyTorch state_dicts, in the spirit of
 * torch.load(weights_only=True): it knows the opcodes pickle protocols 2 to 4 use for plain
 * data, and calls only the few globals a state_dict needs. Any other global (os.system,
 * builtins.eval, subprocess.Popen, ...) is refused by name, never looked up or called.
 * It runs as a loop over an explicit stack, so deep nesting cannot overflow the JS stack;
 * nesting past MAX_DEPTH marks is refused as absurd.
 */

/** A tensor as the pickle describes it; its bytes are in the archive under data/<key>. */
export interface PickledTensor {
  kind: 'tensor';
  storage: PickledStorage;
  offset: number;
  shape: number[];
  strides: number[];
}

export interface PickledStorage {
  kind: 'storage';
  /** safetensors-style dtype name (F32, F16, BF16, F64, I64, ...). */
  dtype: string;
  key: string;
  numel: number;
}

class Global {
  constructor(readonly name: string) {}
}

/** A value a callable we refuse would have produced; cannot occur: GLOBAL refuses first. */
type Value = unknown;

/** torch.<X>Storage classes → dtype of their elements. */
export const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  'torch.FloatStorage': 'F32',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.DoubleStorage': 'F64',
  'torch.LongStorage': 'I64',
  'torch.IntStorage': 'I32',
  'torch.ShortStorage': 'I16',
  'torch.CharStorage': 'I8',
  'torch.ByteStorage': 'U8',
  'torch.BoolStorage': 'BOOL',
};

const CALLABLES: Readonly<Record<string, (args: Value[]) => Value>> = {
  'collections.OrderedDict': () => new Map(),
  'torch._utils._rebuild_tensor_v2': (args) => rebuildTensor(args),
  // Parameters unpickle as their tensor; requires_grad and hooks mean nothing for inference.
  'torch._utils._rebuild_parameter': (args) => args[0],
  'torch._utils._rebuild_parameter_with_state': (args) => args[0],
};

const MAX_DEPTH = 1000;
/** Memo entries: a state_dict's pickle uses a few per tensor; more is refused rather than held. */
const MAX_MEMO = 4_000_000;

/** Globals that mean a pickled nn.Module: PyTorch's layers, and classes defined in the user's script or package. */
const WHOLE_MODEL_MODULES = ['torch.nn.', '__main__.', 'torch.jit.', 'torch.fx.'];

/** Protocol-2 pickles name some Python 3 modules by their Python 2 names; errors show both. */
const PYTHON2_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', commands: 'subprocess', copy_reg: 'copyreg' };

function isIndexArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function rebuildTensor(args: Value[]): PickledTensor {
  const [storage, offset, shape, strides] = args;
  if (!(storage && (storage as PickledStorage).kind === 'storage') || !Number.isSafeInteger(offset) || !isIndexArray(shape) || !isIndexArray(strides) || shape.length !== strides.length) {
    throw new ModelFormatError('Malformed PyTorch file: _rebuild_tensor_v2 got arguments that do not describe a tensor.');
  }
  // Negative offsets would count from the storage's end (as subarray does): torch.load refuses them.
  if ((offset as number) < 0) throw new ModelFormatError(`Malformed PyTorch file: a tensor has the negative storage offset ${offset as number}.`);
  return { kind: 'tensor', storage: storage as PickledStorage, offset: offset as number, shape, strides };
}

/** A short description of a value for error messages; never walks nested structures (they may nest absurdly deep). */
function brief(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 80));
  if (Array.isArray(v)) return `a tuple of ${v.length}`;
  return v instanceof Global ? v.name : typeof v;
}

function persistentLoad(pid: Value): PickledStorage {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new ModelFormatError(`Malformed PyTorch file: unsupported persistent id (${brief(pid)}).`);
  }
  const [, type, key, , numel] = pid;
  const dtype = type instanceof Global ? STORAGE_DTYPES[type.name] : undefined;
  if (!dtype || typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) {
    throw new ModelFormatError(`Malformed PyTorch file: storage ${brief(key)} has an unsupported type.`);
  }
  return { kind: 'storage', dtype, key, numel: numel as number };
}

/** Unpickles `bytes`; the result is plain data: Maps, arrays (tuples and lists), strings, numbers, tensors. */
export function unpickle(bytes: Uint8Array): Value {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: false });
  let pos = 0;
  let stack: Value[] = [];
  const marks: Value[][] = [];
  const memo = new Map<number, Value>();
  const remember = (key: number) => {
    if (memo.size >= MAX_MEMO && !memo.has(key)) throw new ModelFormatError(`Refused to load: the pickle memoizes more than ${MAX_MEMO} values.`);
    memo.set(key, top());
  };

  const need = (n: number) => {
    if (pos + n > bytes.byteLength) throw new ModelFormatError(`Malformed PyTorch file: the pickle is truncated at byte ${pos}.`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = () => view.getUint8(need(1));
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const str = (n: number) => text.decode(bytes.subarray(need(n), pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) need(bytes.byteLength); // truncated
    const s = text.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new ModelFormatError(`Malformed PyTorch file: pickle stack underflow at byte ${pos}.`);
    return stack.pop();
  };
  const popMark = () => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) throw new ModelFormatError(`Malformed PyTorch file: pickle MARK missing at byte ${pos}.`);
    stack = outer;
    return items;
  };
  const top = () => stack[stack.length - 1];
  const global = (name: string) => {
    if (!(name in CALLABLES) && !(name in STORAGE_DTYPES)) {
      const module = name.slice(0, name.indexOf('.'));
      const py3 = PYTHON2_MODULES[module] ? ` (${PYTHON2_MODULES[module]}${name.slice(module.length)} in Python 3)` : '';
      if (name.startsWith('__torch__.')) {
        throw new ModelFormatError(`This is a TorchScript file (torch.jit.save; its pickle names "${name}"), not a torch.save'd state_dict. ${WHOLE_MODEL_REMEDY}`);
      }
      if (WHOLE_MODEL_MODULES.some((m) => name.startsWith(m))) {
        throw new ModelFormatError(
          `This file holds a whole pickled model (torch.save(model): its pickle names the class "${name}"), not a state_dict; ` +
            `resgpu never runs pickled classes. ${WHOLE_MODEL_REMEDY}`,
        );
      }
      throw new ModelFormatError(
        `Refused to load: the pickle names the global "${name}"${py3}, which a PyTorch state_dict never needs ` +
          '(resgpu, like torch.load(weights_only=True), only allows tensors, storages and OrderedDict). ' +
          'If the file is yours, save the state_dict alone: torch.save(model.state_dict(), path).',
      );
    }
    return new Global(name);
  };
  const setItems = (target: Value, items: Value[]) => {
    if (!(target instanceof Map)) throw new ModelFormatError('Malformed PyTorch file: SETITEM on something that is not a dict.');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); break; // FRAME: a length hint
      case 0x2e: return pop(); // STOP
      case 0x28: // MARK
        if (marks.length >= MAX_DEPTH) throw new ModelFormatError(`Refused to load: the pickle nests deeper than ${MAX_DEPTH} levels.`);
        marks.push(stack);
        stack = [];
        break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      // popMark() swaps `stack`, so take its result before touching `stack`.
      case 0x74: case 0x6c: { const items = popMark(); stack.push(items); break; } // TUPLE, LIST
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT (popMark runs before push here)
      case 0x71: remember(u8()); break; // BINPUT
      case 0x72: remember(u32()); break; // LONG_BINPUT
      case 0x94: remember(memo.size); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) throw new ModelFormatError(`Malformed PyTorch file: pickle memo ${key} is unset at byte ${at}.`);
        stack.push(memo.get(key));
        break;
      }
      case 0x58: stack.push(str(u32())); break; // BINUNICODE
      case 0x8c: stack.push(str(u8())); break; // SHORT_BINUNICODE
      case 0x42: stack.push(bytes.slice(need(u32()), pos)); break; // BINBYTES
      case 0x43: stack.push(bytes.slice(need(u8()), pos)); break; // SHORT_BINBYTES
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement
        const n = u8();
        if (n > 7) throw new ModelFormatError(`Malformed PyTorch file: integer of ${n} bytes at byte ${at}.`);
        let v = 0;
        for (let i = 0; i < n; i++) v += bytes[need(1)]! * 2 ** (8 * i);
        if (n > 0 && bytes[pos - 1]! & 0x80) v -= 2 ** (8 * n);
        stack.push(v);
        break;
      }
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x63: { const module = line(); stack.push(global(`${module}.${line()}`)); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(`${String(module)}.${String(name)}`)); break; } // STACK_GLOBAL
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        const f = callable instanceof Global ? CALLABLES[callable.name] : undefined;
        if (!f || !Array.isArray(args)) {
          throw new ModelFormatError(`Refused to load: the pickle calls ${callable instanceof Global ? callable.name : 'a non-callable'} at byte ${at}.`);
        }
        stack.push(f(args));
        break;
      }
      case 0x62: pop(); break; // BUILD: only OrderedDict's _metadata reaches here; inference needs none of it
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x61: { const v = pop(); const list = top(); if (!Array.isArray(list)) throw new ModelFormatError('Malformed PyTorch file: APPEND to a non-list.'); list.push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const list = top(); if (!Array.isArray(list)) throw new ModelFormatError('Malformed PyTorch file: APPENDS to a non-list.'); for (const item of items) list.push(item); break; } // APPENDS (a loop: spreading 300,000 items overflows the stack)
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        throw new ModelFormatError(
          `Refused to load: pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} is not one a PyTorch state_dict uses.`,
        );
    }
  }
}
