/**
 * A training run in its own process, for the kill-and-resume test: `train-child.ts <dataRoot> <outDir> <cacheDir> <epochs>`.
 * Prints "epoch N" after each epoch and the final parameters as JSON on the last line.
 */
import { initNodeBackend } from '@hgm/tensor/node';
import { readDatasetFromDisk, nodeFileSystem } from '@hgm/data/node';
import { train } from '../trainer';
import { ToyModel } from './toy-model';

const [dataRoot, outDir, cacheDir, epochs] = process.argv.slice(2);
await initNodeBackend('cpu');
const index = await readDatasetFromDisk(dataRoot!, { format: 'mvtec' });
const model = new ToyModel({ size: 32, patch: 8, width: 8, seed: 5 });
const samples = index.samples.filter((s) => s.split === 'test');
const result = await train({
  model,
  samples,
  fs: nodeFileSystem,
  outDir: outDir!,
  featureCacheDir: cacheDir!,
  epochs: Number(epochs),
  batchSize: 4,
  seed: 111,
  onProgress: (e) => {
    if (e.type === 'epoch') console.log(`epoch ${e.epoch}`);
  },
});
const params: Record<string, number[]> = {};
for (const p of model.parameters.entries()) if (p.trainable) params[p.name] = Array.from(await p.variable.data());
console.log(JSON.stringify({ params, resumedFrom: result.resumedFrom ?? null, epochsCompleted: result.epochsCompleted }));
