/**
 * Node-only: writes safetensors files tensor by tensor (the header first, then each tensor's bytes in
 * order), so a multi-gigabyte checkpoint is never assembled in memory. The file appears atomically.
 */
import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openTensorFile } from '@hgm/tensor/node';
import { planSafetensors, encodeFloats, type HeaderEntry } from './safetensors-encode';
import { prepareSource, type PrepareOptions } from './load-weights';
import { InvalidStateError, Rng } from '@hgm/tensor';
import { RANDOM_WEIGHTS_METADATA_KEY, randomFrozenValue, randomWeightsPlan, type RandomWeightsPlan } from './random-weights';

/** Produces the bytes of one tensor: one buffer, or chunks whose lengths add up to the tensor's size. */
export type TensorBytes = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Writes a safetensors file from a list of entries and a producer called once per entry, in order.
 * @throws when a producer yields more or fewer bytes than its entry's dtype and shape need
 */
export async function writeSafetensorsStreamed(
  path: string,
  entries: readonly HeaderEntry[],
  produce: (entry: HeaderEntry, index: number) => TensorBytes | Promise<TensorBytes>,
  metadata?: Record<string, string>,
): Promise<{ sizeBytes: number }> {
  const layout = planSafetensors(entries, metadata);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(layout.header);
    for (const [i, entry] of entries.entries()) {
      const [start, end] = layout.offsets[i]!;
      let given = 0;
      const bytes = await produce(entry, i);
      const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = bytes instanceof Uint8Array ? [bytes] : bytes;
      for await (const chunk of chunks) {
        given += chunk.byteLength;
        if (given > end - start) break;
        await fh.write(chunk);
      }
      if (given !== end - start) {
        throw new InvalidStateError(
          `${path}: tensor ${entry.name} [${entry.shape.join(', ')}] ${entry.dtype} needs ${end - start} bytes, the producer gave ${given > end - start ? 'more' : given}`,
        );
      }
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    return { sizeBytes: layout.totalBytes };
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Converts a checkpoint file (safetensors or a PyTorch .pth / .pt / .bin) to another key format (default: its family's canonical one) and/or float
 * dtype, one tensor at a time. Integer tensors stay I32.
 */
export async function convertCheckpointFile(
  input: string,
  output: string,
  options: PrepareOptions & { floatDtype?: 'F32' | 'F16' | 'BF16'; metadata?: Record<string, string> } = {},
): Promise<{ sizeBytes: number; tensorCount: number }> {
  const reader = await openTensorFile(input);
  try {
    const { source, to } = prepareSource(reader, options);
    const floatDtype = options.floatDtype ?? 'F32';
    const entries: HeaderEntry[] = source.keys().map((name) => {
      const info = source.info(name);
      return { name, shape: info.shape, dtype: info.isFloat ? floatDtype : 'I32' };
    });
    const { sizeBytes } = await writeSafetensorsStreamed(
      output,
      entries,
      async (entry) => {
        const host = await source.read(entry.name);
        if (host.dtype === 'float32') return encodeFloats(host.data as Float32Array, floatDtype);
        return new Uint8Array(Int32Array.from(host.data).buffer);
      },
      { ...options.metadata, format: 'pt', keyFormat: to },
    );
    return { sizeBytes, tensorCount: entries.length };
  } finally {
    await reader.close();
  }
}

/**
 * Writes seeded random weights of a catalogue entry's real key names and shapes ({@link randomWeightsPlan}) as a
 * safetensors file, one tensor at a time, marked as random in its metadata ({@link RANDOM_WEIGHTS_METADATA_KEY}:
 * every model loaded from it says so). The same name and seed give the same bytes.
 */
export async function writeRandomWeightsFile(
  path: string,
  name: string,
  seed: number,
  onTensor?: (done: number, total: number) => void,
): Promise<{ sizeBytes: number; tensors: number; plan: RandomWeightsPlan }> {
  const plan = randomWeightsPlan(name);
  const rng = new Rng(seed);
  const entries: HeaderEntry[] = plan.entries.map((e) => ({ name: e.name, dtype: 'F32', shape: e.shape }));
  const { sizeBytes } = await writeSafetensorsStreamed(
    path,
    entries,
    (entry, i) => {
      const value = randomFrozenValue(entry.name, entry.shape, rng, plan.dino);
      onTensor?.(i + 1, entries.length);
      return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    },
    {
      format: 'pt',
      [RANDOM_WEIGHTS_METADATA_KEY]: JSON.stringify({ name, seed, keyFormat: plan.keyFormat }),
    },
  );
  return { sizeBytes, tensors: entries.length, plan };
}
