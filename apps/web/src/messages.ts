/** Messages between the page and the model's Web Worker. */
import type { FrozenWeights } from '@hgm/engine';
import type { ImageSize } from '@hgm/tensor';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';

export type ToWorker =
  | { type: 'init'; backend: BackendChoice }
  | { type: 'load-model'; name: string; bytes: Uint8Array; clip?: { name: string; bytes: Uint8Array }; backbone?: { name: string; bytes: Uint8Array } }
  | { type: 'detect'; id: number; path: string; bytes: Uint8Array; mask?: { path: string; bytes: Uint8Array } };

/** What the page shows about the running model. */
export interface ModelInfo {
  name: string;
  source: string;
  /** A side, or `[height, width]`. */
  imageSize: ImageSize;
  frozen: FrozenWeights;
}

export type FromWorker =
  | { type: 'ready'; backend: string; adapter: string; passedOver: string[]; model: ModelInfo }
  | { type: 'model'; model: ModelInfo }
  | { type: 'result'; id: number; score: number; map: Float32Array; rgb: Uint8Array; size: ImageSize; mask?: Uint8Array; maskError?: string }
  | { type: 'image-error'; id: number; message: string }
  | { type: 'error'; message: string };
