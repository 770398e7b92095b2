import { describe, it, expect, beforeAll } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsReader, encodeSafetensors, MAX_HEADER_BYTES } from './safetensors';
import { SafetensorsError } from './errors';
import { float32ToFloat16, float32ToBfloat16, float16ToFloat32 } from './half';
import { openSafetensors, writeSafetensorsFile, initNodeBackend } from './node';
import { Rng } from './rng';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

/** Builds a safetensors file by hand from a header object and a data buffer (for dtypes the writer does not emit). */
function rawFile(header: unknown, data: Uint8Array, headerLenOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors round trip', () => {
  it('writes F32, I32 and U8 with metadata and reads them back exactly', async () => {
    const rng = new Rng(1);
    const f32 = rng.normalArray(2 * 3 * 5);
    const i32 = Int32Array.from({ length: 7 }, (_, i) => (i - 3) * 1_000_003);
    const u8 = Uint8Array.from([0, 1, 255, 7]);
    const bytes = encodeSafetensors(
      {
        weight: { dtype: 'F32', shape: [2, 3, 5], data: f32 },
        ids: { dtype: 'I32', shape: [7], data: i32 },
        mask: { dtype: 'U8', shape: [2, 2], data: u8 },
        scalar: { dtype: 'F32', shape: [], data: Float32Array.of(2.5) },
      },
      { config: '{"a":1}' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const r = await SafetensorsReader.fromBytes(bytes, 'mem.safetensors');
    expect(r.tensorNames()).toEqual(['weight', 'ids', 'mask', 'scalar']);
    expect(r.metadata).toEqual({ config: '{"a":1}' });
    const w = await r.readHost('weight');
    expect(w.dtype).toBe('float32');
    expect(w.shape).toEqual([2, 3, 5]);
    expect(Array.from(w.data)).toEqual(Array.from(f32));
    expect(Array.from((await r.readHost('ids')).data)).toEqual(Array.from(i32));
    const m = await r.readHost('mask');
    expect(m.dtype).toBe('uint8');
    expect(Array.from(m.data)).toEqual([0, 1, 255, 7]);
    expect(Array.from((await r.readHost('scalar')).data)).toEqual([2.5]);
    const t = await r.readTensor('mask');
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([0, 1, 255, 7]);
    t.dispose();
  });

  it('converts F16, BF16, F64, I64 and BOOL', async () => {
    const values = [0, 1, -2.5, 65504, 1e-7, -0.0009765625, 3.140625];
    const f16 = Uint16Array.from(values.map(float32ToFloat16));
    const bf16 = Uint16Array.from(values.map(float32ToBfloat16));
    const f64 = Float64Array.from(values);
    const i64 = BigInt64Array.from([0n, -5n, 2147483647n, -2147483648n]);
    const bool = Uint8Array.from([1, 0, 1]);
    const parts = [new Uint8Array(f16.buffer), new Uint8Array(bf16.buffer), new Uint8Array(f64.buffer), new Uint8Array(i64.buffer), bool];
    const header: Record<string, unknown> = {};
    const names = ['h', 'b', 'd', 'l', 'q'];
    const dtypes = ['F16', 'BF16', 'F64', 'I64', 'BOOL'];
    const shapes = [[7], [7], [7], [4], [3]];
    let off = 0;
    parts.forEach((p, i) => {
      header[names[i]!] = { dtype: dtypes[i], shape: shapes[i], data_offsets: [off, off + p.length] };
      off += p.length;
    });
    const data = new Uint8Array(off);
    off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    const r = await SafetensorsReader.fromBytes(rawFile(header, data), 'mixed.safetensors');
    const h = await r.readHost('h');
    expect(h.dtype).toBe('float32');
    expect(Array.from(h.data)).toEqual(values.map((v) => float16ToFloat32(float32ToFloat16(v))));
    expect(Array.from(h.data).slice(0, 4)).toEqual([0, 1, -2.5, 65504]);
    const b = await r.readHost('b');
    for (let i = 0; i < values.length; i++) expect(Math.abs(b.data[i]! - values[i]!)).toBeLessThanOrEqual(Math.abs(values[i]!) * 2 ** -8);
    expect(Array.from((await r.readHost('d')).data)).toEqual(Array.from(Float32Array.from(values)));
    const l = await r.readHost('l');
    expect(l.dtype).toBe('int32');
    expect(Array.from(l.data)).toEqual([0, -5, 2147483647, -2147483648]);
    const q = await r.readHost('q');
    expect(q.dtype).toBe('bool');
    expect(Array.from(q.data)).toEqual([1, 0, 1]);
  });

  it('fails on I64 values that do not fit in int32, naming the tensor and the value', async () => {
    const i64 = BigInt64Array.from([1n, 2147483648n]);
    const r = await SafetensorsReader.fromBytes(
      rawFile({ big: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(i64.buffer)),
      'big.safetensors',
    );
    await expect(r.readHost('big')).rejects.toThrow('safetensors file big.safetensors: tensor big: I64 value 2147483648 at flat index 1 does not fit in int32');
  });

  it('reads single tensors from a file by byte range and writes atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-st-'));
    try {
      const path = join(dir, 'a.safetensors');
      const big = new Rng(3).normalArray(100_000);
      await writeSafetensorsFile(
        path,
        { big: { dtype: 'F32', shape: [100, 1000], data: big }, small: { dtype: 'I32', shape: [2], data: Int32Array.of(4, 5) } },
        { k: 'v' },
      );
      const r = await openSafetensors(path);
      expect(r.info('big').shape).toEqual([100, 1000]);
      expect(Array.from((await r.readHost('small')).data)).toEqual([4, 5]);
      expect((await r.readHost('big')).data[99_999]).toBe(big[99_999]);
      await r.close();
      // Overwrite: the old file stays valid until the rename.
      await writeSafetensorsFile(path, { small: { dtype: 'I32', shape: [1], data: Int32Array.of(9) } });
      const r2 = await openSafetensors(path);
      expect(r2.tensorNames()).toEqual(['small']);
      await r2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the golden fixtures of every area', async () => {
    const path = new URL('../../../fixtures/metrics/case-7/inputs.safetensors', import.meta.url).pathname;
    const r = await SafetensorsReader.fromBytes(await readFile(path), path);
    expect(r.info('maps').shape).toEqual([6, 64, 64]);
    expect(r.info('masks').dtype).toBe('U8');
  });
});

describe('safetensors malformed files', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(4), /too short for the 8-byte header length/],
    ['header past end', rawFile({}, new Uint8Array(0), 1000n), /header length 1000 runs past the end of the file/],
    ['absurd header', rawFile({}, new Uint8Array(0), 1n << 60n), /larger than the 100000000-byte limit/],
    [
      'invalid JSON',
      (() => {
        const f = rawFile({}, new Uint8Array(0));
        f[8] = 0x7b;
        f[9] = 0x7b;
        return f;
      })(),
      /header is not valid JSON/,
    ],
    ['not an object', rawFile([1, 2], new Uint8Array(0)), /header must be a JSON object/],
    ['unknown dtype', rawFile({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor a: unknown or unsupported dtype "C64"/],
    [
      'offsets out of range',
      rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
      /tensor a: data_offsets \[0, 16\] run past the end of the data section \(8 bytes\)/,
    ],
    [
      'shape vs bytes',
      rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /tensor a: shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/,
    ],
    [
      'overlap',
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
      /tensors a \[0, 8\] and b \[4, 12\] overlap/,
    ],
    ['negative shape', rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, new Uint8Array(0)), /shape must be a list of non-negative integers/],
    ['bad metadata', rawFile({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__.a must be a string/],
    ['reversed offsets', rawFile({ a: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, new Uint8Array(4)), /end before they start/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`rejects: ${name}`, async () => {
      const err = await SafetensorsReader.fromBytes(bytes, 'bad.safetensors').catch((e) => e);
      expect(err).toBeInstanceOf(SafetensorsError);
      expect(err.message).toMatch(/^safetensors file bad\.safetensors: /);
      expect(err.message).toMatch(message);
    });
  }

  it('fuzz: random and mutated files never hang, never throw anything but SafetensorsError, never over-allocate', async () => {
    const valid = encodeSafetensors(
      { w: { dtype: 'F32', shape: [3, 4], data: new Rng(5).normalArray(12) }, i: { dtype: 'I32', shape: [2], data: Int32Array.of(1, 2) } },
      { m: 'x' },
    );
    let accepted = 0;
    let rejected = 0;
    const check = async (bytes: Uint8Array) => {
      const reads: number[] = [];
      const source = {
        name: 'fuzz.safetensors',
        size: bytes.length,
        async read(offset: number, length: number) {
          reads.push(length);
          if (offset + length > bytes.length) throw new Error('out of range read');
          return bytes.subarray(offset, offset + length);
        },
      };
      try {
        const r = await SafetensorsReader.open(source);
        for (const n of r.tensorNames()) await r.readHost(n);
        accepted++;
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw new Error(`non-SafetensorsError thrown: ${(e as Error).stack}`);
        rejected++;
      }
      // Never asks for more bytes than the file holds.
      expect(reads.reduce((a, b) => Math.max(a, b), 0)).toBeLessThanOrEqual(bytes.length);
    };
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (b) => check(b)),
      { numRuns: 300, seed: 42 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat({ max: valid.length }),
        async (mutations, truncateAt) => {
          const b = valid.slice(0, Math.max(truncateAt, 8));
          for (const [pos, val] of mutations) if (pos < b.length) b[pos] = val;
          await check(b);
        },
      ),
      { numRuns: 700, seed: 7 },
    );
    expect(accepted + rejected).toBe(1000);
    expect(rejected).toBeGreaterThan(100);
    expect(MAX_HEADER_BYTES).toBe(100_000_000);
  });
});

describe('half-precision conversions', () => {
  it('round-trips every finite float16 bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 0x1f) continue;
      const x = float16ToFloat32(h);
      const back = float32ToFloat16(x);
      if (x === 0) expect(back & 0x7fff).toBe(0);
      else expect(back).toBe(h);
    }
  });
});

describe('file writes', () => {
  it('atomic write leaves no temporary file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-aw-'));
    try {
      const { atomicWriteFile } = await import('./node');
      await atomicWriteFile(join(dir, 'x.txt'), 'hello');
      await writeFile(join(dir, 'y.txt'), 'keep');
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(dir)).sort()).toEqual(['x.txt', 'y.txt']);
      expect(await readFile(join(dir, 'x.txt'), 'utf8')).toBe('hello');
      const blocked = join(dir, 'y.txt', 'x.txt');
      await expect(atomicWriteFile(blocked, 'a')).rejects.toThrow(/y\.txt/);
      expect(await readFile(join(dir, 'y.txt'), 'utf8')).toBe('keep');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
