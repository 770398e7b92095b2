import { defineConfig } from 'tsup';

/**
 * One ESM file for Node. The workspace packages are bundled from their sources (the `@hgm/source`
 * condition), so the command line runs without building them first; tfjs and the other npm
 * dependencies stay external (one tfjs-core instance, wasm binaries found in node_modules).
 */
export default defineConfig({
  // the image threads of `hgm serve` load their own file (serve/image-pool.ts finds it next to the bundle)
  entry: { main: 'src/main.ts', 'serve-image-worker': 'src/serve/image-worker.ts' },
  format: ['esm'],
  dts: false,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
  noExternal: [/^@hgm\//],
  // Optional and native packages are loaded at run time when present.
  external: ['webgpu', 'sharp', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node'],
  esbuildOptions(options) {
    options.conditions = ['@hgm/source'];
  },
});
