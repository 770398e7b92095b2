/**
 * `npm run bench -- gaussian-blur [--size 518] [--batch 8] [--sigma 4] [--backend wasm|cpu] [--threads N] [--repeats 3]`
 *
 * The test-time smoothing of the anomaly maps (scipy `gaussian_filter(sigma, mode='reflect', truncate=4)`) on
 * a random batch [batch, size, size], two ways: the dense reflect matrices (an n-term product per output and
 * axis, what `gaussianBlur` did before) and `gaussianBlur` (reflect padding and a (2r + 1)-tap pass per axis).
 * Prints one row per way: the median of `--repeats` steady calls after one warm-up, and the largest absolute
 * difference between the two results.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { initNodeBackend } from '@hgm/tensor/node';
import { gaussianBlur, gaussianBlurMatrix, separableLinear } from '@hgm/dual-anchor';

interface Options {
  size: number;
  batch: number;
  sigma: number;
  backend: 'wasm' | 'cpu';
  threads: number;
  repeats: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { size: 518, batch: 8, sigma: 4, backend: 'wasm', threads: 1, repeats: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i]!, argv[i + 1]];
    if (v === undefined) throw new Error(`gaussian-blur: ${flag} needs a value`);
    if (flag === '--backend') {
      if (v !== 'wasm' && v !== 'cpu') throw new Error(`gaussian-blur: --backend must be wasm or cpu, got ${v}`);
      o.backend = v;
    } else if (flag === '--size' || flag === '--batch' || flag === '--threads' || flag === '--repeats' || flag === '--sigma') {
      const n = Number(v);
      if (!(n > 0)) throw new Error(`gaussian-blur: ${flag} must be a positive number, got ${v}`);
      o[flag.slice(2) as 'size' | 'batch' | 'threads' | 'repeats' | 'sigma'] = n;
    } else throw new Error(`gaussian-blur: unknown option ${flag}`);
  }
  return o;
}

async function time(fn: () => tf.Tensor, repeats: number): Promise<{ ms: number; out: Float32Array }> {
  const warm = fn();
  await warm.data();
  warm.dispose();
  const times: number[] = [];
  let out: Float32Array = new Float32Array(0);
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const y = fn();
    out = (await y.data()) as Float32Array;
    times.push(performance.now() - t0);
    y.dispose();
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, out };
}

export async function run(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  await initNodeBackend(o.backend, { wasmThreads: o.threads });
  const rng = new Rng(7);
  const data = new Float32Array(o.batch * o.size * o.size);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
  const maps = tf.tensor3d(data, [o.batch, o.size, o.size]);
  const dense = await time(
    () =>
      tf.tidy(() => {
        const m = gaussianBlurMatrix(o.size, o.sigma, 4);
        return separableLinear(maps, m, m);
      }),
    o.repeats,
  );
  const taps = await time(() => gaussianBlur(maps, o.sigma, 4), o.repeats);
  maps.dispose();
  let maxDiff = 0;
  for (let i = 0; i < dense.out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(dense.out[i]! - taps.out[i]!));
  console.log(
    `gaussian blur, sigma ${o.sigma}, truncate 4, [${o.batch}, ${o.size}, ${o.size}] on ${tf.getBackend()} (${o.threads} thread${o.threads === 1 ? '' : 's'}), median of ${o.repeats}`,
  );
  console.log('| way | ms per batch |');
  console.log('|---|---|');
  console.log(`| dense reflect matrices (before) | ${dense.ms.toFixed(0)} |`);
  console.log(`| reflect pad + ${2 * Math.floor(4 * o.sigma + 0.5) + 1}-tap passes (gaussianBlur) | ${taps.ms.toFixed(0)} |`);
  console.log(`max |difference| ${maxDiff.toExponential(2)}`);
}
