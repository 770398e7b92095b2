/**
 * A temporary folder for what a run draws only once its whole map range is known (`mapScale: 'run'`): each
 * map and the decoded image it is drawn on wait here as raw files, so drawing reuses the first decoding while
 * memory holds one batch.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecodedImage, Mask } from '@hgm/data';

/** What one item keeps: its map, and the decoded image, mask and model input that its drawings need. */
export interface StashedItem {
  map: Float32Array;
  image?: DecodedImage;
  mask?: Mask | null;
  /** The normalised model input [3 * S * S]. */
  pixels?: Float32Array;
  /** The mask at the model input's size [S * S] 0/1. */
  inputMask?: Uint8Array;
}

type Layout = { image?: Omit<DecodedImage, 'data'>; mask?: Omit<Mask, 'data'> | null; pixels: boolean; inputMask: boolean };

export class DecodedStash {
  private readonly layouts = new Map<number, Layout>();

  private constructor(readonly dir: string) {}

  /** Makes the folder (under the system's temporary folder). */
  static async open(prefix: string): Promise<DecodedStash> {
    return new DecodedStash(await mkdtemp(join(tmpdir(), prefix)));
  }

  async put(id: number, item: StashedItem): Promise<void> {
    const layout: Layout = { pixels: item.pixels !== undefined, inputMask: item.inputMask !== undefined };
    await writeFile(this.file(id, 'map'), bytesOf(item.map));
    if (item.image) {
      const { data, ...rest } = item.image;
      layout.image = rest;
      await writeFile(this.file(id, 'image'), bytesOf(data));
    }
    if (item.mask !== undefined) {
      if (item.mask === null) layout.mask = null;
      else {
        const { data, ...rest } = item.mask;
        layout.mask = rest;
        await writeFile(this.file(id, 'mask'), data);
      }
    }
    if (item.pixels) await writeFile(this.file(id, 'pixels'), bytesOf(item.pixels));
    if (item.inputMask) await writeFile(this.file(id, 'input-mask'), item.inputMask);
    this.layouts.set(id, layout);
  }

  async get(id: number): Promise<StashedItem> {
    const layout = this.layouts.get(id);
    if (!layout) throw new Error(`stash ${this.dir}: nothing stored as item ${id}`);
    const out: StashedItem = { map: new Float32Array(await this.read(id, 'map')) };
    if (layout.image) {
      const raw = await this.read(id, 'image');
      out.image = { ...layout.image, data: layout.image.bitDepth === 16 ? new Uint16Array(raw) : new Uint8Array(raw) };
    }
    if (layout.mask !== undefined) out.mask = layout.mask === null ? null : { ...layout.mask, data: new Uint8Array(await this.read(id, 'mask')) };
    if (layout.pixels) out.pixels = new Float32Array(await this.read(id, 'pixels'));
    if (layout.inputMask) out.inputMask = new Uint8Array(await this.read(id, 'input-mask'));
    return out;
  }

  /** Removes the folder and everything in it. */
  async close(): Promise<void> {
    this.layouts.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  private file(id: number, part: string): string {
    return join(this.dir, `${id}.${part}`);
  }

  /** A file's bytes in an ArrayBuffer of their own (aligned for any typed array). */
  private async read(id: number, part: string): Promise<ArrayBuffer> {
    const bytes = await readFile(this.file(id, part));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
}

/** The bytes of a typed array (a view, no copy). */
function bytesOf(a: Float32Array | Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
