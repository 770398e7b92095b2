import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('@hgm/tensor/tfjs-gradients', () => {
  it('registers tfjs-core gradients and chained ops in a fresh Node process, with no @tensorflow/tfjs dependency', () => {
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain('@tensorflow/tfjs');
    const require = createRequire(join(packageDir, 'package.json'));
    const file = require.resolve('@hgm/tensor/tfjs-gradients');
    expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/^\/\/ @tensorflow\/tfjs-core [\d.]+: register_all_gradients \+ register_all_chained_ops$/);
    // a child process: nothing registered beforehand, only tfjs-core's Node build, the cpu backend and the file
    const script = `
      const tf = require('@tensorflow/tfjs-core');
      require('@tensorflow/tfjs-backend-cpu');
      tf.enableProdMode();
      const before = [tf.getGradient('Mean') !== undefined, typeof tf.tensor([1]).mul === 'function'];
      require(${JSON.stringify(file)});
      tf.setBackend('cpu').then(() => {
        const x = tf.tensor2d([[1, 2], [3, 4]]);
        const g = tf.grad((a) => a.matMul(a).softmax().mul(a.relu()).sum())(x);
        const h = tf.grad((a) => tf.conv2d(a.reshape([1, 2, 2, 1]), tf.ones([1, 1, 1, 2]), 1, 'same').square().mean())(x);
        console.log(JSON.stringify({ before, after: [tf.getGradient('Mean') !== undefined, typeof x.mul === 'function'], g: Array.from(g.dataSync()), h: Array.from(h.dataSync()) }));
      });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: packageDir, encoding: 'utf8' })) as {
      before: boolean[];
      after: boolean[];
      g: number[];
      h: number[];
    };
    expect(out.before).toEqual([false, false]);
    expect(out.after).toEqual([true, true]);
    // two 1x1 filters of ones: 8 outputs, each pixel twice; mean of squares = sum(2 x^2) / 8, gradient x / 2
    expect(out.h.map((v) => Math.round(v * 1e5) / 1e5)).toEqual([0.5, 1, 1.5, 2]);
    expect(out.g.every(Number.isFinite)).toBe(true);
    expect(out.g.some((v) => v !== 0)).toBe(true);
  });
});
