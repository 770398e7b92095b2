#!/usr/bin/env node
// Writes packages/tensor/generated/tfjs-gradients.cjs: tfjs-core's own gradient functions
// (`dist/register_all_gradients.js`) and chained ops (`dist/public/chained_ops/register_all_chained_ops.js`)
// bundled into one CommonJS file, from the @tensorflow/tfjs-core that is installed.
//
// Why: tfjs-core's Node build (`tf-core.node.js`) registers neither, and the modules that do are ES modules
// written for bundlers (extensionless and folder imports), which Node cannot load. Bundled, they register
// against the engine and registries that every copy of tfjs-core shares (kept on globalThis), so
// `@hgm/tensor`'s `ensureGradients` gets gradients without the whole `@tensorflow/tfjs` bundle (layers,
// converter, data, webgl: about 240 MB installed). The file keeps tfjs-core's licence comments.
//
// Run by the repository's postinstall and by `@hgm/tensor`'s build; it rewrites the file only when tfjs-core's
// version differs from the one recorded in it. `--force` rewrites it anyway.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tensorDir = join(root, 'packages', 'tensor');
const out = join(tensorDir, 'generated', 'tfjs-gradients.cjs');
const require = createRequire(join(tensorDir, 'package.json'));
const version = require('@tensorflow/tfjs-core/package.json').version;
const stamp = `// @tensorflow/tfjs-core ${version}: register_all_gradients + register_all_chained_ops`;

if (!process.argv.includes('--force') && existsSync(out) && readFileSync(out, 'utf8').startsWith(stamp)) process.exit(0);

const { build } = await import('esbuild');
const result = await build({
  stdin: {
    contents: [
      "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
      "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';",
    ].join('\n'),
    resolveDir: tensorDir,
    sourcefile: 'tfjs-gradients-entry.js',
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // tfjs-core's own third-party dependencies load from node_modules, as its Node build loads them
  external: ['long', 'seedrandom', 'node-fetch'],
  legalComments: 'eof',
  write: false,
  logLevel: 'warning',
});
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
writeFileSync(tmp, `${stamp}\n${result.outputFiles[0].text}`);
renameSync(tmp, out);
console.log(`wrote ${out} (${(result.outputFiles[0].contents.length / 1024).toFixed(0)} kB, tfjs-core ${version})`);
