/**
 * A thread of `hgm serve`'s image pool ({@link ImagePool}): decodes and preprocesses request images and draws
 * their maps, so that the main thread only accepts requests and runs the model. Each message is answered with
 * `{ id, ok, ... }`; big arrays move back without a copy.
 */
import { parentPort } from 'node:worker_threads';
import { preprocessImage, type DecodedImage } from '@hgm/data';
import { decodeImageNode } from '@hgm/data/node';
import { originalMapPngs, type EnginePreprocess } from '@hgm/engine/node';
import type { ImageJob, ImageReply } from './image-pool';

if (!parentPort) throw new Error('image-worker: run me as a worker thread of hgm serve');
const port = parentPort;

function fail(id: number, e: unknown): ImageReply {
  const err = e as Error & { path?: string; detail?: string; kind?: string };
  return { id, ok: false, error: { name: err.name ?? 'Error', message: err.message ?? String(e), path: err.path, detail: err.detail, kind: err.kind } };
}

port.on('message', async (job: ImageJob) => {
  try {
    if (job.op === 'prepare') {
      const image = await decodeImageNode(job.bytes, job.name, { maxPixels: job.maxPixels });
      const pixels = preprocessImage(image, job.preprocess);
      const reply: ImageReply = { id: job.id, ok: true, op: 'prepare', pixels, image };
      port.postMessage(reply, [pixels.buffer as ArrayBuffer, image.data.buffer as ArrayBuffer]);
    } else {
      const image: DecodedImage = job.image;
      const pre: EnginePreprocess = job.preprocess;
      const pngs = originalMapPngs(image, job.map, pre, { norm: { min: 0, max: 1 }, ...(job.threshold !== undefined ? { threshold: job.threshold } : {}) });
      const reply: ImageReply = { id: job.id, ok: true, op: 'draw', heatmap: pngs.heatmap, overlay: pngs.overlay };
      port.postMessage(reply, [pngs.heatmap.buffer as ArrayBuffer, pngs.overlay.buffer as ArrayBuffer]);
    }
  } catch (e) {
    port.postMessage(fail(job.id, e));
  }
});
