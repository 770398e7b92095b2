import { describe, it, expect, beforeAll } from 'vitest';
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import { TorchCheckpointReader } from './torch-checkpoint';
import { SafetensorsReader } from './safetensors';
import { TorchCheckpointError } from './errors';
import { openTensorFile, initNodeBackend } from './node';
import type { HostTensor } from './safetensors';

const fixture = (path: string): string => new URL(`../../../fixtures/${path}`, import.meta.url).pathname;
const PAYLOAD_MARKER = 'hgm-pickle-payload-ran';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

function bytesOf(t: HostTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Every tensor of the checkpoint (under `prefix`) equals its safetensors twin bit for bit, with the same names. */
async function expectTwins(checkpoint: string, twin: string, prefix = '', sameOrder = true): Promise<number> {
  const torch = await openTensorFile(fixture(checkpoint));
  const st = await SafetensorsReader.fromBytes(await readFile(fixture(twin)), twin);
  try {
    const names = torch
      .tensorNames()
      .filter((n) => n.startsWith(prefix))
      .map((n) => n.slice(prefix.length));
    if (sameOrder) expect(names).toEqual(st.tensorNames());
    else expect([...names].sort()).toEqual([...st.tensorNames()].sort());
    for (const n of st.tensorNames()) {
      const a = await torch.readHost(prefix + n);
      const b = await st.readHost(n);
      expect(a.shape, n).toEqual(b.shape);
      expect(a.dtype, n).toBe(b.dtype);
      expect(Buffer.compare(bytesOf(a), bytesOf(b)), n).toBe(0);
    }
    return names.length;
  } finally {
    await torch.close();
    await st.close();
  }
}

describe('PyTorch checkpoints', () => {
  it('torch.save state dicts (the official-reference fixtures) load bit-identically to their safetensors twins', async () => {
    expect(await expectTwins('torch/dinov2-tiny.pth', 'vit/dinov2-tiny/weights.safetensors')).toBe(50);
    expect(await expectTwins('torch/dinov3-tiny.pth', 'vit/dinov3-tiny/weights.safetensors')).toBe(53);
    expect(await expectTwins('torch/tiny-dinov3.pth', 'torch/tiny-dinov3.safetensors')).toBeGreaterThan(40);
  });

  it('the legacy (non-zip) torch.save stream loads too', async () => {
    expect(await expectTwins('torch/dinov2-tiny-legacy.pth', 'vit/dinov2-tiny/weights.safetensors')).toBe(50);
    const r = await TorchCheckpointReader.fromBytes(await readFile(fixture('torch/dinov2-tiny-legacy.pth')), 'legacy.pth');
    expect(r.format).toBe('legacy');
  });

  it('a TorchScript archive (torch.jit.save) yields its module parameters by path', async () => {
    const n = await expectTwins('torch/tiny-clip.pt', 'torch/tiny-clip.safetensors', '', false);
    expect(n).toBeGreaterThan(60);
    const r = await TorchCheckpointReader.fromBytes(await readFile(fixture('torch/tiny-clip.pt')), 'clip.pt');
    expect(r.format).toBe('torchscript');
    expect(r.has('visual.conv1.weight')).toBe(true);
  });

  it('F32 / F16 / BF16 / I64, strided and offset views, shared storages, parameters and nested containers', async () => {
    expect(await expectTwins('torch/mixed.pth', 'torch/mixed.safetensors', 'model.')).toBe(11);
    const r = await TorchCheckpointReader.fromBytes(await readFile(fixture('torch/mixed.pth')), 'mixed.pth');
    // Non-tensor leaves (epoch, lr, strings, lists of ints) are not tensors and are not listed.
    expect(r.tensorNames().every((n) => n.startsWith('model.'))).toBe(true);
    const t = r.info('model.f32_transposed');
    expect(t).toMatchObject({ dtype: 'F32', shape: [5, 6], stride: [1, 5], storageOffset: 0 });
    expect(r.info('model.f32_slice')).toMatchObject({ shape: [3, 3], stride: [5, 1], storageOffset: 11 });
    expect(r.info('model.f32_slice').storage).toBe(t.storage);
    const i64 = await r.readHost('model.i64');
    expect(Array.from(i64.data)).toEqual([0, -5, 2147483647, -2147483648, 7, 1]);
    const tensor = await r.readTensor('model.scalar');
    expect(tensor.shape).toEqual([]);
    expect(await tensor.data()).toEqual(Float32Array.of(2.5));
    tensor.dispose();
  });

  it('deflated zip members are inflated', async () => {
    const members = unzipSync(new Uint8Array(await readFile(fixture('torch/mixed.pth'))));
    const deflated = zipSync(Object.fromEntries(Object.entries(members).map(([k, v]) => [k, [v, { level: 6 }]])) as never);
    const r = await TorchCheckpointReader.fromBytes(deflated, 'deflated.pth');
    const st = await SafetensorsReader.fromBytes(await readFile(fixture('torch/mixed.safetensors')));
    for (const n of st.tensorNames()) expect(Buffer.compare(bytesOf(await r.readHost(`model.${n}`)), bytesOf(await st.readHost(n))), n).toBe(0);
  });

  it('refuses a pickle global outside the allowed set, naming it, and executes nothing', async () => {
    for (const [file, global] of [
      ['torch/hostile-os-system.pth', 'posix.system'],
      ['torch/hostile-eval.pkl', '__builtin__.eval'],
    ] as const) {
      const err = await openTensorFile(fixture(file)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TorchCheckpointError);
      expect((err as TorchCheckpointError).refusedGlobal).toBe(global);
      expect((err as Error).message).toContain(`pickle global ${global} is not allowed`);
      expect(existsSync(PAYLOAD_MARKER)).toBe(false);
    }
  });

  it('names the file and the fault for broken checkpoints', async () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), /too short for a zip archive|no zip end-of-central-directory/],
      [Uint8Array.from([0x80, 0x02, 0x4b, 0x01, 0x2e]), /a bare pickle, not a torch.save file/],
      [Uint8Array.from([0x80, 0x02, 0x63, ...new TextEncoder().encode('subprocess\nPopen\n'), 0x2e]), /pickle global subprocess\.Popen is not allowed/],
      [Uint8Array.from([0x80, 0x02, 0x5d, 0x30]), /ends before the STOP opcode/],
      [new Uint8Array([1, 2, 3, 4]), /neither a zip archive nor a pickle/],
    ];
    for (const [bytes, message] of cases) {
      const err = await TorchCheckpointReader.fromBytes(bytes, 'bad.pth').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TorchCheckpointError);
      expect((err as Error).message).toMatch(/^PyTorch checkpoint bad\.pth: /);
      expect((err as Error).message).toMatch(message);
    }
    const members = unzipSync(new Uint8Array(await readFile(fixture('torch/mixed.pth'))));
    delete members['mixed/data/3'];
    const missing = await TorchCheckpointReader.fromBytes(zipSync(members), 'bad.pth').catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/storage 3 has no member mixed\/data\/3 in the archive/);
  });
});

describe('PyTorch checkpoint fuzz', () => {
  it('random and mutated files never hang, never throw anything but TorchCheckpointError, never read out of bounds', async () => {
    const zip = new Uint8Array(await readFile(fixture('torch/mixed.pth')));
    const legacy = new Uint8Array(await readFile(fixture('torch/dinov2-tiny-legacy.pth'))).slice(0, 4000);
    const pickle = unzipSync(zip)['mixed/data.pkl']!;
    let accepted = 0;
    let rejected = 0;
    const check = async (bytes: Uint8Array): Promise<void> => {
      const source = {
        name: 'fuzz.pth',
        size: bytes.length,
        async read(offset: number, length: number) {
          if (offset < 0 || length < 0 || offset + length > bytes.length) throw new Error(`out of range read of ${length} at ${offset}`);
          return bytes.subarray(offset, offset + length);
        },
      };
      try {
        const r = await TorchCheckpointReader.open(source);
        for (const n of r.tensorNames()) await r.readHost(n);
        accepted++;
      } catch (e) {
        if (!(e instanceof TorchCheckpointError)) throw new Error(`non-TorchCheckpointError thrown: ${(e as Error).stack}`);
        rejected++;
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (b) => check(b)),
      { numRuns: 200, seed: 42 },
    );
    const mutate = (valid: Uint8Array, runs: number, seed: number) =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
          fc.nat({ max: valid.length }),
          async (mutations, truncateAt) => {
            const b = valid.slice(0, Math.max(truncateAt, 2));
            for (const [pos, val] of mutations) if (pos < b.length) b[pos] = val;
            await check(b);
          },
        ),
        { numRuns: runs, seed },
      );
    await mutate(zip, 400, 7);
    await mutate(legacy, 200, 8);
    // Mutations inside the pickle of an otherwise valid archive.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: pickle.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (mutations) => {
          const members = unzipSync(zip);
          const p = members['mixed/data.pkl']!;
          for (const [pos, val] of mutations) p[pos] = val;
          await check(zipSync(members));
        },
      ),
      { numRuns: 200, seed: 9 },
    );
    expect(accepted + rejected).toBe(1000);
    expect(rejected).toBeGreaterThan(100);
  }, 60_000);
});
