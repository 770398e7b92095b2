// @hgm/data: dataset readers, image decoding, preprocessing and seeded synthetic anomalies.
// Browser-safe: no Node modules. Local-disk helpers are in `@hgm/data/node`, platform decoding in `@hgm/data/browser`.
export { DataError, ImageDecodeError, DatasetError, type DatasetIssue, type DatasetIssueKind } from './errors';
export { type DecodedImage, type ImageFormat, type Rgb8Image, toPlanarRgb, maxSampleValue, colorChannels } from './codecs/image';
export { decodePng, encodePng, type PngEncodeInput } from './codecs/png';
export { decodeJpeg, encodeJpeg, MAX_JPEG_MEGAPIXELS } from './codecs/jpeg';
export { decodeBmp, encodeBmp, type BmpEncodeInput } from './codecs/bmp';
export { decodeImage, decodeImage as decodeImagePureJs, sniffImageFormat, hasImageExtension, IMAGE_EXTENSIONS } from './codecs/decode-image';
export { DEFAULT_MAX_PIXELS, ImageTooLargeError, checkPixelLimit, readImageSize, type PixelLimitOptions } from './codecs/pixel-limit';
export { binarizeMask, unionMasks, countMaskPixels, LOSSY_MASK_THRESHOLD, type Mask } from './mask';
export { resizePlanar, resizeMaskNearest, type Interpolation } from './resize';
export {
  type PreprocessConfig,
  type ResizePlan,
  DEFAULT_PREPROCESS_CONFIG,
  CLIP_MEAN,
  CLIP_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  resolvePreprocessConfig,
  planResize,
  preprocessImage,
  preprocessMask,
} from './preprocess';
export { type DatasetFileSystem, type DirectoryEntry, joinPath, baseName, fileStem } from './file-system';
export { type DatasetSample, type DatasetIndex, type DatasetFormat, type Split, DATASET_FORMATS, NORMAL_DEFECT_TYPE } from './sample';
export { readDataset, detectFormat, type ReadDatasetOptions } from './readers/read-dataset';
export { type FolderLayout } from './readers/folder';
export { MVTEC_PROFILES, type MvtecProfile } from './readers/mvtec';
export { VISA_DEFAULT_SPLIT_FILE } from './readers/visa';
export { type MetaJsonEntry } from './readers/meta-json';
export { loadSample, readBytes, type LoadedSample, type LoadSampleOptions, type ImageDecoder } from './load-sample';
export { memoryFileSystem, type FileContent } from './memory-file-system';
export { createBatchStream, type Batch, type BatchOptions, type BatchStats, type BatchStream } from './batches';
export { inspectDataset, formatInspectReport, type InspectOptions, type InspectReport, type CategorySummary } from './inspect';
export { generateSample, MIN_DEFECT_CONTRAST, type SyntheticSample, type SyntheticKind, type GenerateSampleOptions } from './synthetic/generate-sample';
export { SYNTHETIC_DOMAINS, TEXTURE_DOMAINS, type SyntheticDomain } from './synthetic/domains';
export { ANOMALY_KINDS, type AnomalyKind } from './synthetic/anomalies';
export {
  buildSyntheticDataset,
  resolveSyntheticDatasetConfig,
  syntheticFileName,
  DEFAULT_SYNTHETIC_DATASET_CONFIG,
  type SyntheticDatasetConfig,
} from './synthetic/dataset';
export { perlinNoise, fractalNoise } from './synthetic/noise';
