/**
 * WebGPU start-up and kernel corrections for tfjs-backend-webgpu 4.22, kept in one place.
 *
 * Device: the stock backend asks the adapter for six limits and leaves the rest at WebGPU's defaults, so a
 * device on an adapter that offers 16 storage buffers per shader stage gets 8 and `addN` of more than 7
 * tensors fails validation. {@link registerWebgpuDevice} replaces the stock factory with one that requests
 * the adapter's own limits (including `maxStorageBuffersPerShaderStage`, `maxBufferSize` and
 * `maxStorageBufferBindingSize`) and `shader-f16` where offered, and records them ({@link webgpuDeviceInfo}).
 *
 * Kernels ({@link registerWebgpuKernelFixes}), each replacing the stock webgpu kernel and calling it:
 * - `Transpose` of int32 and bool: the stock shader writes an i32 into a f32 output slot and fails WGSL
 *   validation (tfjs #8638). The input is moved to a real float32 buffer (multiplied by 1.0; a Cast to float32
 *   keeps the int32 buffer), transposed and cast back. Exact for |x| < 2^24, which holds for every index and
 *   mask this project transposes. The reductions (`Sum`, `Max`, `Min`, `Prod`, `Mean`, `All`, `Any`,
 *   `ArgMax`, `ArgMin`) and `Cumsum`/`Cumprod` transpose inside the stock kernel with the same shader when
 *   their axes are not innermost: for int32 and bool they get their input already transposed here.
 * - `Cast` of int32 or bool to float32: the stock kernel relabels the int32 buffer as float32, and kernels
 *   that declare their input by the buffer's type (Transpose) then fail the same way; here the cast makes a
 *   real float32 buffer.
 *   Still open (not used by the model): int32 `UnsortedSegmentSum`, `BatchToSpaceND` and `Einsum`.
 * - `AddN` of more tensors than the device's storage buffers per stage minus one (the output): summed in
 *   chunks that fit, as the stock kernel already does for Concat.
 * - `GatherV2` (axis 0) from a table larger than one storage binding (`maxStorageBufferBindingSize`; CLIP's
 *   token embedding [49408, 768] is 152 MB, lavapipe binds 128 MiB): the table is copied in row blocks that
 *   each fit (buffer copies are not bound, so they have no such limit), each block gathers the ids that fall
 *   in it and the blocks' rows are added (each id is in exactly one block). The gradient with respect to such
 *   a table is not split (the model's tables are frozen).
 *
 * Storage bindings: the stock backend binds every input and output of a kernel whole, and a buffer larger
 * than `maxStorageBufferBindingSize` fails validation and leaves zeros without an error. The backend created
 * here checks each kernel's inputs and output first and throws a {@link DeviceLimitError} naming the kernel,
 * the shape and the limit. The model splits what would not fit (attention, the transformer MLP) at
 * {@link storageBindingLimit}, which {@link setStorageBindingLimit} can lower to exercise those splits at
 * small shapes.
 *
 * Known gaps that are not mended here: synchronous reads (`dataSync`) do not work on webgpu in Node; read
 * with `await data()`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DeviceLimitError } from './errors';

/** The device limits this project requests from the adapter (all that tfjs or the model depend on). */
export const WEBGPU_REQUESTED_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

export type WebgpuLimitName = (typeof WEBGPU_REQUESTED_LIMITS)[number];

/** What the webgpu device was created with. */
export interface WebgpuDeviceInfo {
  /** Adapter vendor, architecture, device and description joined. */
  adapter: string;
  /** The limits the device has (after the request), by name. */
  limits: Record<WebgpuLimitName, number>;
  /** The same limits' WebGPU defaults, where the adapter offers more. */
  defaults: Partial<Record<WebgpuLimitName, number>>;
  /** Features this project requested and the device enabled (timestamp-query, shader-f16). */
  features: string[];
  /** Whether the adapter offers `shader-f16` (half-precision arithmetic in shaders). */
  shaderF16: boolean;
  /**
   * The precision the kernels compute in: always float32. tfjs-backend-webgpu 4.22 has no half-precision
   * path even where the device enables `shader-f16`: tfjs-core's dtypes are float32, int32, bool, complex64
   * and string (no float16), the backend stores every element in 4 bytes (`GPUBytesPerElement`), and its
   * WGSL declares f32 storage and never `enable f16`. A half-precision path would need kernels of its own.
   */
  precision: 'float32';
}

/** WebGPU's default limits (the values a device gets when a limit is not requested). */
const WEBGPU_DEFAULT_LIMITS: Record<WebgpuLimitName, number> = {
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupSizeX: 256,
  maxComputeInvocationsPerWorkgroup: 256,
};

interface GpuAdapterLike {
  limits: Record<string, number>;
  features: { has(name: string): boolean };
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  requestDevice(desc: {
    requiredLimits?: Record<string, number>;
    requiredFeatures?: string[];
  }): Promise<{ limits: Record<string, number>; features: { has(name: string): boolean } }>;
}

let deviceInfo: WebgpuDeviceInfo | undefined;

/** The limits and features of the webgpu device this process created, or undefined before webgpu started. */
export function webgpuDeviceInfo(): WebgpuDeviceInfo | undefined {
  return deviceInfo;
}

let bindingCap: number | null = null;

/** The device's own `maxStorageBufferBindingSize` (WebGPU's default 128 MiB where the device is not known). */
function deviceBindingLimit(backend: unknown): number {
  const n = (backend as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device?.limits?.maxStorageBufferBindingSize;
  return typeof n === 'number' && n > 0 ? n : WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize;
}

/**
 * The most bytes one tensor may take where a kernel binds it, on the active backend: on webgpu the
 * device's `maxStorageBufferBindingSize` (or the lower cap of {@link setStorageBindingLimit}); elsewhere
 * Infinity. Operations that can be split (attention, the transformer MLP, a gather from a large table) split
 * at this size.
 */
export function storageBindingLimit(): number {
  if (tf.getBackend() !== 'webgpu') return Infinity;
  const device = deviceBindingLimit(tf.backend());
  return bindingCap === null ? device : Math.min(device, bindingCap);
}

/**
 * Lowers the size at which operations split on webgpu ({@link storageBindingLimit}) below the device's own
 * limit, so that the split paths run at small shapes (tests) or a smaller device is emulated; `null`
 * restores the device's limit. It never raises the limit: the binding check of every kernel keeps the
 * device's value.
 */
export function setStorageBindingLimit(bytes: number | null): void {
  if (bytes !== null && !(Number.isInteger(bytes) && bytes >= 4))
    throw new ConfigError(`setStorageBindingLimit: bytes must be an integer >= 4 or null, found ${bytes}`);
  bindingCap = bytes;
}

interface WebgpuProgramLike {
  outputShape: number[];
  constructor: { name: string };
}

/**
 * Makes a webgpu backend check, before each kernel runs, that its inputs and output each fit one storage
 * binding: the stock backend binds them whole, and an oversized binding fails validation and leaves zeros.
 */
function guardBindings(backend: tf.KernelBackend): void {
  const b = backend as unknown as { runWebGPUProgram: (program: WebgpuProgramLike, inputs: tf.TensorInfo[], ...rest: unknown[]) => tf.TensorInfo };
  const run = b.runWebGPUProgram.bind(backend);
  const limit = deviceBindingLimit(backend);
  b.runWebGPUProgram = (program, inputs, ...rest) => {
    const check = (what: string, shape: readonly number[]) => {
      const bytes = 4 * shape.reduce((a, n) => a * n, 1);
      if (bytes > limit) {
        throw new DeviceLimitError(
          `webgpu: ${program.constructor.name} ${what} [${shape.join(', ')}] takes ${bytes} bytes, more than one storage binding holds on this device (maxStorageBufferBindingSize ${limit} bytes); use a smaller batch or image size, or another backend`,
          'maxStorageBufferBindingSize',
          limit,
          bytes,
        );
      }
    };
    inputs.forEach((x, i) => check(`input ${i}`, x.shape));
    const output = rest[2] as tf.TensorInfo | undefined;
    check('output', output ? output.shape : program.outputShape);
    return run(program, inputs, ...rest);
  };
}

/** The device's storage buffers per shader stage, or WebGPU's default where the device is not known. */
function storageBuffersPerStage(backend: unknown): number {
  const n = (backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } }).device?.limits?.maxStorageBuffersPerShaderStage;
  return typeof n === 'number' && n > 1 ? n : WEBGPU_DEFAULT_LIMITS.maxStorageBuffersPerShaderStage;
}

/**
 * Replaces the stock `webgpu` backend factory with one that requests the adapter's own limits and records
 * them. Call after `@tensorflow/tfjs-backend-webgpu` is imported (it registers the stock factory) and before
 * `tf.setBackend('webgpu')`. Idempotent.
 */
export function registerWebgpuDevice(webgpuModule: unknown): void {
  const WebGPUBackend = (webgpuModule as { WebGPUBackend?: new (device: unknown, info?: unknown) => tf.KernelBackend }).WebGPUBackend;
  if (typeof WebGPUBackend !== 'function') throw new Error('@tensorflow/tfjs-backend-webgpu: expected it to export WebGPUBackend, found none');
  if (tf.findBackend('webgpu') !== null) return;
  // The module registers its factory on import only where navigator.gpu already existed.
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(o?: unknown): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
      if (!gpu) throw new Error('webgpu: navigator.gpu is missing');
      const lowPower = tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU');
      const adapter = await gpu.requestAdapter({ powerPreference: lowPower ? 'low-power' : 'high-performance' });
      if (!adapter) throw new Error('webgpu: requestAdapter() returned no adapter');
      const requiredLimits: Record<string, number> = {};
      for (const name of WEBGPU_REQUESTED_LIMITS) {
        const v = adapter.limits[name];
        if (typeof v === 'number') requiredLimits[name] = v;
      }
      const requiredFeatures = ['timestamp-query', 'shader-f16'].filter((f) => adapter.features.has(f));
      const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
      const limits = {} as Record<WebgpuLimitName, number>;
      const defaults: Partial<Record<WebgpuLimitName, number>> = {};
      for (const name of WEBGPU_REQUESTED_LIMITS) {
        limits[name] = Number(device.limits[name]);
        if (limits[name] !== WEBGPU_DEFAULT_LIMITS[name]) defaults[name] = WEBGPU_DEFAULT_LIMITS[name];
      }
      const features = requiredFeatures.filter((f) => device.features.has(f));
      const info = adapter.info ?? {};
      deviceInfo = {
        adapter: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter',
        limits,
        defaults,
        features: features.sort(),
        shaderF16: adapter.features.has('shader-f16'),
        precision: 'float32',
      };
      const backend = new WebGPUBackend(device, adapter.info);
      guardBindings(backend);
      return backend;
    },
    3,
  );
}

type KernelFn = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

interface BackendWithData extends tf.KernelBackend {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

/** The parts of tfjs-backend-webgpu's backend that a buffer-to-buffer copy needs. */
interface BackendWithBuffers extends BackendWithData {
  uploadToGPU(dataId: tf.DataId): void;
  tensorMap: { get(id: tf.DataId): { resource?: unknown; dtype: tf.DataType } | undefined };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  commandEncoder: { copyBufferToBuffer(src: unknown, srcOffset: number, dst: unknown, dstOffset: number, size: number): void };
}

/**
 * A new tensor holding `rows` rows of `x` from row `start` (x flattened to [N, rowSize]), made with a
 * buffer copy: no kernel binds `x`, so `x` may exceed a storage binding.
 * @returns [rows, ...x.shape.slice(1)]
 */
function copyRows(backend: BackendWithBuffers, x: tf.TensorInfo, dtype: tf.DataType, start: number, rows: number): tf.TensorInfo {
  const rowSize = x.shape.slice(1).reduce((a, n) => a * n, 1);
  backend.uploadToGPU(x.dataId);
  const src = backend.tensorMap.get(x.dataId)?.resource;
  const block = backend.makeTensorInfo([rows, ...x.shape.slice(1)], dtype);
  backend.uploadToGPU(block.dataId);
  const dst = backend.tensorMap.get(block.dataId)?.resource;
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.commandEncoder.copyBufferToBuffer(src, 4 * start * rowSize, dst, 0, 4 * rows * rowSize);
  return block;
}

const stockKernels = new Map<string, KernelFn>();

/** The stock webgpu kernel of that name (the one tfjs registered, even after it is replaced here). */
function stockKernel(name: string): KernelFn {
  const known = stockKernels.get(name);
  if (known) return known;
  const k = tf.getKernel(name, 'webgpu');
  if (!k) throw new Error(`tfjs-backend-webgpu: kernel ${name} is not registered; import @tensorflow/tfjs-backend-webgpu first`);
  stockKernels.set(name, k.kernelFunc as unknown as KernelFn);
  return k.kernelFunc as unknown as KernelFn;
}

function one(x: tf.TensorInfo | tf.TensorInfo[]): tf.TensorInfo {
  return Array.isArray(x) ? x[0]! : x;
}

/** The corrected kernels, by name; each calls the stock kernel it replaces. */
export const WEBGPU_KERNEL_FIXES = [
  'Transpose',
  'Cast',
  'AddN',
  'GatherV2',
  'Sum',
  'Max',
  'Min',
  'Prod',
  'Mean',
  'All',
  'Any',
  'ArgMax',
  'ArgMin',
  'Cumsum',
  'Cumprod',
] as const;

let fixesRegistered = false;

/** Registers the corrected webgpu kernels ({@link WEBGPU_KERNEL_FIXES}). Idempotent. */
export function registerWebgpuKernelFixes(): void {
  if (fixesRegistered) return;
  const transpose = stockKernel('Transpose');
  const addN = stockKernel('AddN');
  const multiply = stockKernel('Multiply');
  const cast = stockKernel('Cast');

  /** The dtype of the buffer behind a tensor (a stock Cast to float32 keeps an int32 buffer under a float32 tensor). */
  const stored = (backend: tf.KernelBackend, x: tf.TensorInfo): tf.DataType =>
    (backend as unknown as { tensorMap: { get(id: tf.DataId): { dtype: tf.DataType } | undefined } }).tensorMap.get(x.dataId)?.dtype ?? x.dtype;

  const toFloat = (backend: BackendWithData, x: tf.TensorInfo): tf.TensorInfo => {
    const unit = backend.makeTensorInfo([], 'float32', new Float32Array([1]));
    const asFloat = one(multiply({ inputs: { a: x, b: unit }, backend }));
    backend.disposeData(unit.dataId);
    return asFloat;
  };

  const fixedCast: KernelFn = (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const dtype = (args.attrs as { dtype: tf.DataType }).dtype;
    if (dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return cast(args);
    return toFloat(args.backend as BackendWithData, x);
  };

  const fixedTranspose: KernelFn = (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const backend = args.backend as BackendWithData;
    const kind = stored(backend, x);
    if (kind !== 'int32' && kind !== 'bool') return transpose(args);
    if (x.dtype === 'float32') {
      const asFloat = toFloat(backend, { ...x, dtype: kind });
      const out = one(transpose({ inputs: { x: asFloat }, backend, attrs: args.attrs }));
      backend.disposeData(asFloat.dataId);
      return out;
    }
    const asFloat = toFloat(backend, x);
    const moved = one(transpose({ inputs: { x: asFloat }, backend, attrs: args.attrs }));
    backend.disposeData(asFloat.dataId);
    const out = one(cast({ inputs: { x: moved }, backend, attrs: { dtype: x.dtype } }));
    backend.disposeData(moved.dataId);
    return out;
  };

  const fixedAddN: KernelFn = (args) => {
    const backend = args.backend as BackendWithData;
    // tfjs passes AddN's inputs as an array.
    const tensors = (Array.isArray(args.inputs) ? args.inputs : Object.values(args.inputs)) as tf.TensorInfo[];
    const room = Math.max(2, storageBuffersPerStage(backend) - 1);
    if (tensors.length <= room) return addN(args);
    let rest = tensors;
    const partials: tf.TensorInfo[] = [];
    while (rest.length > 1) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < rest.length; i += room) {
        const chunk = rest.slice(i, i + room);
        if (chunk.length === 1) {
          next.push(chunk[0]!);
          continue;
        }
        const s = one(addN({ inputs: chunk as unknown as tf.NamedTensorInfoMap, backend }));
        partials.push(s);
        next.push(s);
      }
      rest = next;
    }
    const result = rest[0]!;
    for (const p of partials) if (p !== result) backend.disposeData(p.dataId);
    return result;
  };

  const reshape = stockKernel('Reshape');
  const gather = stockKernel('GatherV2');
  const sub = stockKernel('Sub');
  const maximum = stockKernel('Maximum');
  const minimum = stockKernel('Minimum');
  const equal = stockKernel('Equal');
  const add = stockKernel('Add');

  /**
   * A gather along axis 0 from a table that a kernel cannot bind whole: row blocks that each fit are copied
   * out (buffer copies have no binding limit); block j gathers min(max(id - start_j, 0), rows_j - 1) and
   * keeps the rows whose id fell inside it (a 0/1 factor); the blocks' results are added. Exact: every id is
   * in one block, the others contribute 0 (the table's values are finite).
   */
  const fixedGather: KernelFn = (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const indices = args.inputs.indices as tf.TensorInfo;
    const attrs = (args.attrs ?? {}) as { axis: number; batchDims: number };
    const backend = args.backend as BackendWithBuffers;
    const limit = storageBindingLimit();
    const bytes = 4 * x.shape.reduce((a, n) => a * n, 1);
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]!;
    if (bytes <= limit || axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.shape.length < 1) return gather(args);
    const n = x.shape[0]!;
    const rest = x.shape.slice(1);
    const rowBytes = 4 * rest.reduce((a, m) => a * m, 1);
    const perBlock = Math.floor(limit / rowBytes);
    if (perBlock < 1) {
      throw new DeviceLimitError(
        `webgpu: GatherV2 from a table [${x.shape.join(', ')}] whose single rows take ${rowBytes} bytes, more than one storage binding holds (${limit} bytes)`,
        'maxStorageBufferBindingSize',
        limit,
        rowBytes,
      );
    }
    const k = indices.shape.reduce((a, m) => a * m, 1);
    const temps: tf.TensorInfo[] = [];
    const keep = <T extends tf.TensorInfo>(t: T): T => {
      temps.push(t);
      return t;
    };
    const ids = keep(one(reshape({ inputs: { x: indices }, backend, attrs: { shape: [k] } })));
    const ints = ids.dtype === 'int32' ? ids : keep(one(cast({ inputs: { x: ids }, backend, attrs: { dtype: 'int32' } })));
    const scalar = (v: number) => keep(backend.makeTensorInfo([], 'int32', Int32Array.of(v)));
    const zero = scalar(0);
    const dtype = stored(backend, x);
    let sum: tf.TensorInfo | null = null;
    for (let start = 0; start < n; start += perBlock) {
      const rows = Math.min(perBlock, n - start);
      const block = keep(copyRows(backend, x, dtype, start, rows));
      const local = keep(one(sub({ inputs: { a: ints, b: scalar(start) }, backend })));
      const clipped = keep(one(minimum({ inputs: { a: keep(one(maximum({ inputs: { a: local, b: zero }, backend }))), b: scalar(rows - 1) }, backend })));
      const inside = keep(
        one(fixedCast({ inputs: { x: keep(one(equal({ inputs: { a: clipped, b: local }, backend }))) }, backend, attrs: { dtype: 'float32' } })),
      );
      const picked = keep(one(gather({ inputs: { x: block, indices: clipped }, backend, attrs: { axis: 0, batchDims: 0 } })));
      const factor = keep(one(reshape({ inputs: { x: inside }, backend, attrs: { shape: [k, ...rest.map(() => 1)] } })));
      const part = one(multiply({ inputs: { a: picked, b: factor }, backend }));
      if (sum === null) sum = part;
      else {
        keep(part);
        keep(sum);
        sum = one(add({ inputs: { a: sum, b: part }, backend }));
      }
    }
    const out = one(reshape({ inputs: { x: sum! }, backend, attrs: { shape: [...indices.shape, ...rest] } }));
    for (const t of temps) backend.disposeData(t.dataId);
    // the reshape shares the sum's buffer (one more reference); release the sum's own reference
    backend.disposeData(sum!.dataId);
    return out;
  };

  /**
   * Reductions (and arg-reductions) over axes that are not the innermost transpose their input inside the
   * stock kernel with the same broken shader; for int32 and bool the input is transposed here with the
   * corrected kernel, so the stock kernel sees innermost axes.
   */
  const innermostFirst =
    (name: string, single: boolean): KernelFn =>
    (args) => {
      const stock = stockKernel(name);
      const x = args.inputs.x as tf.TensorInfo;
      // Max and Min name their axes reductionIndices, the others axis.
      const attrs = (args.attrs ?? {}) as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims?: boolean };
      const key = 'reductionIndices' in attrs ? 'reductionIndices' : 'axis';
      const rank = x.shape.length;
      if ((x.dtype !== 'int32' && x.dtype !== 'bool') || rank === 0) return stock(args);
      const axes = tf.util.parseAxisParam(attrs[key] ?? (null as unknown as number[]), x.shape);
      const perm = tf.backend_util.getAxesPermutation(axes, rank);
      if (perm === null) return stock(args);
      const backend = args.backend as BackendWithData;
      const moved = one(fixedTranspose({ inputs: { x }, backend, attrs: { perm } }));
      const inner = tf.backend_util.getInnerMostAxes(axes.length, rank);
      const res = one(stock({ inputs: { x: moved }, backend, attrs: { ...attrs, [key]: single ? inner[0]! : inner, keepDims: false } }));
      backend.disposeData(moved.dataId);
      if (!attrs.keepDims) return res;
      const shape = tf.backend_util.expandShapeToKeepDim(res.shape, axes);
      const kept = one(reshape({ inputs: { x: res }, backend, attrs: { shape } }));
      return kept;
    };

  /** Cumulative sums and products along an axis that is not the last transpose inside the stock kernel too. */
  const lastAxisFirst =
    (name: string): KernelFn =>
    (args) => {
      const stock = stockKernel(name);
      const x = args.inputs.x as tf.TensorInfo;
      const attrs = (args.attrs ?? {}) as { axis: number; exclusive: boolean; reverse: boolean };
      const rank = x.shape.length;
      const axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
      if ((x.dtype !== 'int32' && x.dtype !== 'bool') || axis === rank - 1) return stock(args);
      const backend = args.backend as BackendWithData;
      const perm = tf.backend_util.getAxesPermutation([axis], rank)!;
      const moved = one(fixedTranspose({ inputs: { x }, backend, attrs: { perm } }));
      const res = one(stock({ inputs: { x: moved }, backend, attrs: { ...attrs, axis: rank - 1 } }));
      backend.disposeData(moved.dataId);
      const back = one(fixedTranspose({ inputs: { x: res }, backend, attrs: { perm: tf.backend_util.getUndoAxesPermutation(perm) } }));
      backend.disposeData(res.dataId);
      return back;
    };

  const wrapped: [string, KernelFn][] = [
    ['Transpose', fixedTranspose],
    ['Cast', fixedCast],
    ['AddN', fixedAddN],
    ['GatherV2', fixedGather],
    ...(['Sum', 'Max', 'Min', 'Prod', 'Mean', 'All', 'Any'] as const).map((n): [string, KernelFn] => [n, innermostFirst(n, false)]),
    ...(['ArgMax', 'ArgMin'] as const).map((n): [string, KernelFn] => [n, innermostFirst(n, true)]),
    ...(['Cumsum', 'Cumprod'] as const).map((n): [string, KernelFn] => [n, lastAxisFirst(n)]),
  ];
  // Look every stock kernel up before any is replaced, so each wrapper calls the stock one.
  for (const [name] of wrapped) stockKernel(name);
  for (const [name, fn] of wrapped) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  fixesRegistered = true;
}
