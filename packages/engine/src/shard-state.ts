/**
 * The file format of an evaluation shard's state ({@link EvaluationShardState}): the magic `HGMSHRD1`, the
 * byte length of a JSON header (uint32, little-endian), the header (category, image scores, mask counts,
 * the pixel set's scalars and array lengths), zero padding to a multiple of 4, then the pixel set's arrays
 * as little-endian uint32 in the header's order. Scores are float32 values, which JSON keeps exactly.
 */
import type { PixelSetState } from '@hgm/metrics';
import type { EvaluationShardState, ShardImageScore } from './evaluator';

const MAGIC = 'HGMSHRD1';
const ARRAYS = ['negativeKeys', 'positiveKeys', 'positiveRegions', 'regionSizes', 'regionMinKey', 'regionMaxKey'] as const;
type ArrayName = (typeof ARRAYS)[number];

interface ShardHeader {
  version: 1;
  category: string;
  scores: ShardImageScore[];
  anomalousWithMask: number;
  anomalousWithoutMask: number;
  pixels: { images: number; minKey: number; maxKey: number; negativeMinKey: number; negativeMaxKey: number; lengths: Record<ArrayName, number> };
}

const littleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The shard's state as bytes (see the module comment for the layout). */
export function encodeShardState(state: EvaluationShardState): Uint8Array {
  const p = state.pixels;
  const lengths = Object.fromEntries(ARRAYS.map((a) => [a, p[a].length])) as Record<ArrayName, number>;
  const header: ShardHeader = {
    version: 1,
    category: state.category,
    scores: state.scores.map((s) => ({ imagePath: s.imagePath, label: s.label, score: s.score })),
    anomalousWithMask: state.anomalousWithMask,
    anomalousWithoutMask: state.anomalousWithoutMask,
    pixels: { images: p.images, minKey: p.minKey, maxKey: p.maxKey, negativeMinKey: p.negativeMinKey, negativeMaxKey: p.negativeMaxKey, lengths },
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = align4(MAGIC.length + 4 + json.length);
  const total = start + 4 * ARRAYS.reduce((n, a) => n + lengths[a], 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  let offset = start;
  for (const a of ARRAYS) {
    const values = p[a];
    if (littleEndian) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
    else {
      const view = new DataView(out.buffer, offset, values.byteLength);
      for (let i = 0; i < values.length; i++) view.setUint32(4 * i, values[i]!, true);
    }
    offset += values.byteLength;
  }
  return out;
}

/**
 * Reads bytes written by {@link encodeShardState}.
 * @param what names the bytes in errors (e.g. the file they were read from)
 * @throws Error naming `what` and what was expected when the bytes are not a shard state
 */
export function decodeShardState(bytes: Uint8Array, what: string): EvaluationShardState {
  const fail = (why: string): never => {
    throw new Error(`${what}: ${why}`);
  };
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC)
    fail(`not an evaluation shard state (expected the bytes to start with ${MAGIC})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + jsonLength > bytes.length) fail(`header of ${jsonLength} bytes, but the file has ${bytes.length} bytes in all (truncated?)`);
  let header: ShardHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength))) as ShardHeader;
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  if (header.version !== 1) fail(`format version ${String(header.version)}, expected 1`);
  if (typeof header.category !== 'string' || !Array.isArray(header.scores) || !header.pixels?.lengths) fail('header lacks the category, scores or pixel set');
  for (const s of header.scores)
    if (typeof s.imagePath !== 'string' || (s.label !== 0 && s.label !== 1) || typeof s.score !== 'number')
      fail(`score entry ${JSON.stringify(s)}, expected { imagePath, label 0 or 1, score }`);
  const start = align4(MAGIC.length + 4 + jsonLength);
  const lengths = header.pixels.lengths;
  for (const a of ARRAYS) if (!(Number.isInteger(lengths[a]) && lengths[a] >= 0)) fail(`length of ${a} is ${String(lengths[a])}, expected a count`);
  const expected = start + 4 * ARRAYS.reduce((n, a) => n + lengths[a], 0);
  if (bytes.length !== expected) fail(`${bytes.length} bytes, expected ${expected} from its header (truncated or damaged)`);
  const arrays = {} as Record<ArrayName, Uint32Array>;
  let offset = start;
  for (const a of ARRAYS) {
    const values = new Uint32Array(lengths[a]);
    // a copy: the bytes may be a view into a larger buffer (a Node Buffer from its pool) at any alignment
    if (littleEndian) new Uint8Array(values.buffer).set(bytes.subarray(offset, offset + 4 * values.length));
    else for (let i = 0; i < values.length; i++) values[i] = view.getUint32(offset + 4 * i, true);
    arrays[a] = values;
    offset += 4 * values.length;
  }
  const px = header.pixels;
  const pixels: PixelSetState = {
    images: px.images,
    minKey: px.minKey,
    maxKey: px.maxKey,
    negativeMinKey: px.negativeMinKey,
    negativeMaxKey: px.negativeMaxKey,
    ...arrays,
  };
  return {
    category: header.category,
    scores: header.scores,
    pixels,
    anomalousWithMask: header.anomalousWithMask,
    anomalousWithoutMask: header.anomalousWithoutMask,
  };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
