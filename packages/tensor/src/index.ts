// @hgm/tensor: what the model code needs beyond tfjs-core. Browser-safe; Node extras are in `@hgm/tensor/node`.
export { Rng, BatchRowsRng } from './rng';
export {
  HgmError,
  isHgmError,
  type HgmErrorCode,
  ConfigError,
  ShapeError,
  type ShapeErrorDetails,
  InvalidFileError,
  CheckpointMismatchError,
  InputNotFoundError,
  OutputWriteError,
  WeightsUnavailableError,
  DivergedError,
  InvalidStateError,
  DeviceLimitError,
  OutOfMemoryError,
  SafetensorsError,
  TorchCheckpointError,
  StateDictError,
  formatProblem,
  type StateDictProblem,
} from './errors';
export { bufferSource, fetchSource, type ByteSource } from './byte-source';
export {
  WASM_HEAP_MAX_BYTES,
  backendMemoryLimit,
  isOutOfMemory,
  outOfMemoryError,
  checkMemoryNeed,
  withMemoryGuard,
  formatGiB,
  measurePeakBytes,
  trackPeakBytes,
  type PeakTracker,
  wasmHeapBytes,
  type MemoryContext,
} from './memory';
export {
  SafetensorsReader,
  encodeSafetensors,
  planSafetensors,
  type SafetensorsHeaderEntry,
  type SafetensorsLayout,
  decodeTensorBytes,
  hostToTensor,
  tensorToWritable,
  SAFETENSORS_DTYPE_BYTES,
  MAX_HEADER_BYTES,
  type SafetensorsDtype,
  type TensorInfo,
  type HostTensor,
  type WritableTensor,
} from './safetensors';
export { TorchCheckpointReader, TORCH_STORAGE_DTYPES, type TorchCheckpointFormat, type TorchTensorInfo } from './torch-checkpoint';
export { ZipArchive, type ZipEntry } from './zip-archive';
export { unpickle, PyGlobal, PyTuple, PyDict, ScriptObject, type PyValue, type PyKey, type UnpicklerHooks, type Unpickled } from './pickle';
export { openTensorSource, sniffTensorFileFormat, isTensorFile, type TensorFile, type TensorFileFormat } from './tensor-file';
export { float16ToFloat32, bfloat16ToFloat32, float32ToFloat16, float32ToBfloat16 } from './half';
export { disposeOwned } from './dispose-owned';
export { renameKey, renameKeys, type RenameRule } from './rename-rules';
export { ParameterStore, joinName, toStateDictSource, type Parameter, type LoadReport, type LoadOptions, type StateDictSource } from './parameter-store';
export {
  initBackend,
  BackendStartError,
  type InitBackendOptions,
  describeAdapter,
  type WebgpuAdapterCheck,
  defaultLoaders,
  BACKEND_NAMES,
  AUTO_ORDER,
  type BackendName,
  type BackendRequest,
  type BackendReport,
  type BackendLoaders,
  type PassedOver,
} from './backend';
export {
  registerWebgpuDevice,
  registerWebgpuKernelFixes,
  webgpuDeviceInfo,
  storageBindingLimit,
  setStorageBindingLimit,
  WEBGPU_KERNEL_FIXES,
  WEBGPU_REQUESTED_LIMITS,
  type WebgpuDeviceInfo,
  type WebgpuLimitName,
} from './webgpu';
export { imageHW, imageSizeOf, canonicalImageSize, sameImageSize, formatImageSize, imageSizeProblems, type ImageSize } from './image-size';
