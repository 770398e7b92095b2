import { inflateSync } from 'fflate';
import type { ByteSource } from './byte-source';
import { TorchCheckpointError } from './errors';

/** One member of a zip archive. */
export interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's local header. */
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
/** The largest entry count the reader accepts (a checkpoint has one member per storage). */
const MAX_ENTRIES = 1_000_000;

/**
 * The zip container PyTorch writes (`torch.save` since 1.6, `torch.jit.save`): read through a byte source,
 * the central directory first, members on request. Stored members are read by byte range; deflated ones
 * are inflated in memory. Zip64 records are understood. Throws {@link TorchCheckpointError}.
 */
export class ZipArchive {
  private constructor(
    private readonly source: ByteSource,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static async open(source: ByteSource): Promise<ZipArchive> {
    const file = source.name;
    const fail = (fault: string): never => {
      throw new TorchCheckpointError(file, fault);
    };
    if (source.size < 22) fail(`file is ${source.size} bytes, too short for a zip archive`);
    const tailLength = Math.min(source.size, 22 + 65535);
    const tail = await source.read(source.size - tailLength, tailLength);
    const tv = view(tail);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) fail('no zip end-of-central-directory record');
    let count = tv.getUint16(eocd + 10, true);
    let dirSize = tv.getUint32(eocd + 12, true);
    let dirOffset = tv.getUint32(eocd + 16, true);
    if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
      const locatorAt = eocd - 20;
      if (locatorAt < 0 || tv.getUint32(locatorAt, true) !== ZIP64_LOCATOR_SIGNATURE) fail('zip64 sizes without a zip64 locator');
      const zip64At = u64(tv, locatorAt + 8, file);
      if (zip64At + 56 > source.size) fail(`zip64 record at ${zip64At} runs past the end of the file`);
      const rec = view(await source.read(zip64At, 56));
      if (rec.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) fail(`no zip64 end-of-central-directory record at ${zip64At}`);
      count = u64(rec, 32, file);
      dirSize = u64(rec, 40, file);
      dirOffset = u64(rec, 48, file);
    }
    if (count > MAX_ENTRIES) fail(`the central directory lists ${count} members, more than the ${MAX_ENTRIES} accepted`);
    if (dirOffset + dirSize > source.size)
      fail(`the central directory [${dirOffset}, ${dirOffset + dirSize}) runs past the end of the file (${source.size} bytes)`);
    const dir = await source.read(dirOffset, dirSize);
    const dv = view(dir);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    const decoder = new TextDecoder('utf-8', { fatal: false });
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dv.getUint32(p, true) !== CENTRAL_SIGNATURE) fail(`central directory member ${i} is malformed`);
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLength = dv.getUint16(p + 28, true);
      const extraLength = dv.getUint16(p + 30, true);
      const commentLength = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      const end = p + 46 + nameLength + extraLength + commentLength;
      if (end > dir.length) fail(`central directory member ${i} runs past the directory`);
      const name = decoder.decode(dir.subarray(p + 46, p + 46 + nameLength));
      // Zip64 extra field: the 64-bit values, in order, of the fields set to 0xffffffff.
      let q = p + 46 + nameLength;
      const extraEnd = q + extraLength;
      while (q + 4 <= extraEnd) {
        const id = dv.getUint16(q, true);
        const len = dv.getUint16(q + 2, true);
        if (q + 4 + len > extraEnd) fail(`member ${name}: extra field runs past its end`);
        if (id === 0x0001) {
          let r = q + 4;
          const next = (): number => {
            if (r + 8 > q + 4 + len) fail(`member ${name}: zip64 extra field too short`);
            const v = u64(dv, r, file);
            r += 8;
            return v;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        q += 4 + len;
      }
      if (method !== 0 && method !== 8) fail(`member ${name}: compression method ${method} is not supported (stored or deflated only)`);
      if (method === 0 && compressedSize !== size) fail(`member ${name}: stored with ${compressedSize} bytes but a size of ${size}`);
      if (localHeaderOffset + 30 + compressedSize > source.size) fail(`member ${name}: data runs past the end of the file`);
      if (entries.has(name)) fail(`member ${name} is listed twice`);
      entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = end;
    }
    return new ZipArchive(source, entries);
  }

  get name(): string {
    return this.source.name;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new TorchCheckpointError(this.source.name, `the archive has no member ${name}`);
    return e;
  }

  /** Offset of a member's first data byte (after its local header). */
  async dataOffset(e: ZipEntry): Promise<number> {
    const header = view(await this.source.read(e.localHeaderOffset, 30));
    if (header.getUint32(0, true) !== LOCAL_SIGNATURE)
      throw new TorchCheckpointError(this.source.name, `member ${e.name}: no local header at ${e.localHeaderOffset}`);
    const start = e.localHeaderOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
    if (start + e.compressedSize > this.source.size) throw new TorchCheckpointError(this.source.name, `member ${e.name}: data runs past the end of the file`);
    return start;
  }

  /** Reads `length` bytes at `offset` of a member's uncompressed content. */
  async readRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    const e = this.entry(name);
    if (offset < 0 || length < 0 || offset + length > e.size) {
      throw new TorchCheckpointError(this.source.name, `member ${name}: ${length} bytes at ${offset} are outside its ${e.size} bytes`);
    }
    if (e.method === 0) return this.source.read((await this.dataOffset(e)) + offset, length);
    return (await this.read(name)).subarray(offset, offset + length);
  }

  /** Reads a whole member (inflating a deflated one). */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entry(name);
    const raw = await this.source.read(await this.dataOffset(e), e.compressedSize);
    if (e.method === 0) return raw;
    let out: Uint8Array;
    try {
      out = inflateSync(raw, { out: new Uint8Array(e.size) });
    } catch (err) {
      throw new TorchCheckpointError(this.source.name, `member ${name}: deflated data is corrupt (${(err as Error).message})`);
    }
    if (out.length !== e.size) throw new TorchCheckpointError(this.source.name, `member ${name}: inflated to ${out.length} bytes, expected ${e.size}`);
    return out;
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, at: number, file: string): number {
  const v = dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 4294967296;
  if (!Number.isSafeInteger(v)) throw new TorchCheckpointError(file, `a zip64 value at ${at} is too large`);
  return v;
}
