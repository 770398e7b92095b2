/**
 * The model's Web Worker: starts the tfjs backend (WebGPU or wasm), loads the demo model or a dropped
 * checkpoint, and answers one image at a time, so the page stays responsive.
 */
import { initBackend, describeAdapter, type BackendLoaders, type WebgpuAdapterCheck } from '@hgm/tensor';
import { ClipTokenizer } from '@hgm/backbone';
import { decodeImageInBrowser } from '@hgm/data/browser';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import vocabUrl from '@hgm/backbone/assets/bpe_simple_vocab_16e6.txt.gz?url';
import demoModelUrl from '../assets/demo-model.safetensors?url';
import { detectImage, loadSavedModel, maskAtSize, type PageModel } from './model';
import type { FromWorker, ModelInfo, ToWorker } from './messages';

let adapter: WebgpuAdapterCheck = { available: false, software: false, description: 'none' };

const loaders: BackendLoaders = {
  async importModule(name) {
    if (name === '@tensorflow/tfjs-backend-wasm') return import('@tensorflow/tfjs-backend-wasm');
    if (name === '@tensorflow/tfjs-backend-webgpu') return import('@tensorflow/tfjs-backend-webgpu');
    return undefined;
  },
  prepareWasm(m) {
    (m as { setWasmPaths(p: Record<string, string>): void }).setWasmPaths({
      'tfjs-backend-wasm.wasm': new URL(wasmUrl, self.location.href).href,
      'tfjs-backend-wasm-simd.wasm': new URL(wasmSimdUrl, self.location.href).href,
      'tfjs-backend-wasm-threaded-simd.wasm': new URL(wasmThreadedUrl, self.location.href).href,
    });
  },
  async prepareWebgpu() {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) return false;
    adapter = describeAdapter(await gpu.requestAdapter());
    return adapter;
  },
};

let tokenizer: ClipTokenizer | undefined;
let current: PageModel | undefined;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  (self as unknown as { postMessage(m: unknown, t: Transferable[]): void }).postMessage(message, transfer);
}

function info(m: PageModel): ModelInfo {
  return { name: m.config.name, source: m.source, imageSize: m.config.imageSize, frozen: m.frozen };
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${what} (${url}): HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init': {
      const report = await initBackend(msg.backend, loaders, { autoOrder: ['webgpu', 'wasm'] });
      const vocab = await fetchBytes(vocabUrl, 'CLIP vocabulary');
      // A server may send the .gz with Content-Encoding: gzip (Vite's dev server does), and fetch then inflates it.
      const gzipped = vocab[0] === 0x1f && vocab[1] === 0x8b;
      tokenizer = gzipped ? ClipTokenizer.fromVocabBytes(vocab) : ClipTokenizer.fromMergesText(new TextDecoder('utf-8').decode(vocab));
      current = await loadSavedModel(await fetchBytes(demoModelUrl, 'demo model'), 'demo-model.safetensors (shipped with the app)', tokenizer);
      post({
        type: 'ready',
        backend: report.chosen,
        adapter: report.chosen === 'webgpu' ? adapter.description : adapter.available ? `WebGPU adapter ${adapter.description} not used` : 'no WebGPU adapter',
        passedOver: report.passedOver.map((p) => `${p.backend}: ${p.detail}`),
        model: info(current),
      });
      return;
    }
    case 'load-model': {
      if (!tokenizer) throw new Error('the worker was asked for a model before it started');
      const next = await loadSavedModel(msg.bytes, msg.name, tokenizer, {
        ...(msg.clip ? { clip: msg.clip } : {}),
        ...(msg.backbone ? { backbone: msg.backbone } : {}),
      });
      current?.engine.dispose();
      current = next;
      post({ type: 'model', model: info(next) });
      return;
    }
    case 'detect': {
      if (!current) throw new Error('the worker was asked for a map before the model loaded');
      try {
        const image = await decodeImageInBrowser(msg.bytes, msg.path);
        const r = await detectImage(current.engine, image);
        let mask: Uint8Array | undefined;
        let maskError: string | undefined;
        if (msg.mask) {
          try {
            mask = maskAtSize(await decodeImageInBrowser(msg.mask.bytes, msg.mask.path), current.engine);
          } catch (e) {
            maskError = (e as Error).message;
          }
        }
        post(
          { type: 'result', id: msg.id, score: r.score, map: r.map, rgb: r.rgb, size: r.size, ...(mask ? { mask } : {}), ...(maskError ? { maskError } : {}) },
          [r.map.buffer, r.rgb.buffer],
        );
      } catch (e) {
        post({ type: 'image-error', id: msg.id, message: (e as Error).message });
      }
      return;
    }
  }
}

// Messages are handled one after the other, in order.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<ToWorker>) => {
  queue = queue.then(() => handle(event.data)).catch((e: unknown) => post({ type: 'error', message: (e as Error).message ?? String(e) }));
};
