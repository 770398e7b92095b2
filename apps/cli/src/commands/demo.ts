/**
 * `hgm demo`: the whole job offline, on synthetic images. It generates an auxiliary set of texture domains
 * and a separate evaluation set (other seeds: no image is shared) that adds an unseen object domain,
 * trains the tiny configuration (random frozen backbone, so nothing is downloaded) on the auxiliary set,
 * evaluates before and after training, and writes an HTML report.
 */
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import {
  readDatasetFromDisk,
  writeSyntheticDataset,
  nodeFileSystem,
  TEXTURE_DOMAINS,
  SYNTHETIC_DOMAINS,
  ANOMALY_KINDS,
  type SyntheticDomain,
  type DatasetSample,
} from '@hgm/data/node';
import { atomicWriteFile } from '@hgm/tensor/node';
import {
  describeScale,
  evaluate,
  evaluationMarkdown,
  renderReport,
  formatDuration,
  type EvaluationExample,
  type EvaluationResult,
  type MetricCell,
  type ReportTable,
  type StepRecord,
} from '@hgm/engine/node';
import type { DualAnchorConfigInput } from '@hgm/dual-anchor';
import { BACKEND_FIELD, CommandContext, resolveCommandOptions, type ActionFactory } from '../command-context';
import type { Schema } from '../config-file';
import { CliError, EXIT } from '../exit-codes';
import { ensureWritableDir } from '../output-dir';
import { createModel, presetConfig } from '../models';
import { trainWithInterrupt } from './train';
import { cliInvocation } from '../cli-invocation';
import { train } from '@hgm/engine/node';

export const DEMO_SCHEMA: Schema = {
  out: { type: 'string', description: 'output folder' },
  epochs: { type: 'integer', min: 1, description: 'epochs' },
  size: { type: 'integer', min: 16, description: 'image side' },
  batchSize: { type: 'integer', min: 1, description: 'batch size' },
  lr: { type: 'number', min: 0, description: 'learning rate' },
  seed: { type: 'integer', description: 'seed' },
  trainDomains: { type: 'string[]', choices: SYNTHETIC_DOMAINS, description: 'training domains' },
  unseenDomains: { type: 'string[]', choices: SYNTHETIC_DOMAINS, description: 'unseen domains' },
  trainGood: { type: 'integer', min: 1, description: 'normal training images per domain' },
  trainPerKind: { type: 'integer', min: 1, description: 'anomalous training images per domain and defect kind' },
  evalGood: { type: 'integer', min: 1, description: 'normal evaluation images per domain' },
  evalPerKind: { type: 'integer', min: 1, description: 'anomalous evaluation images per domain and defect kind' },
  requireAuroc: { type: 'number', min: 0, max: 1, description: 'fail when the training-domain image AUROC is lower' },
  backend: BACKEND_FIELD,
};

export interface DemoOptions extends Record<string, unknown> {
  out: string;
  epochs: number;
  size: number;
  batchSize: number;
  lr: number;
  seed: number;
  trainDomains: string[];
  unseenDomains: string[];
  trainGood: number;
  trainPerKind: number;
  evalGood: number;
  evalPerKind: number;
  requireAuroc: number;
  backend: string;
}

/** The demo's defaults: about two minutes of CPU time on two cores with the wasm backend. */
export const DEMO_DEFAULTS: DemoOptions = {
  out: join('out', 'demo'),
  epochs: 8,
  size: 64,
  batchSize: 8,
  lr: 0.01,
  seed: 111,
  trainDomains: [...TEXTURE_DOMAINS],
  unseenDomains: ['cap'],
  trainGood: 16,
  trainPerKind: 4,
  evalGood: 10,
  evalPerKind: 3,
  requireAuroc: 0.8,
  backend: 'wasm',
};

/**
 * The tiny model as the demo configures it. Its frozen backbone has random weights, so the global token
 * says little about small defects; the image score is therefore the mean of the top 2% of the anomaly map
 * (the model's `scoreFusion` option, weight 1). The prompt-based score alone is reported beside it.
 */
export function demoModelConfig(size: number): DualAnchorConfigInput {
  return presetConfig('tiny', { name: 'dual-anchor tiny (demo)', imageSize: size, scoreFusion: { mode: 'top-k-mean', topKFraction: 0.02, weight: 1 } });
}

const pct = (c: MetricCell | undefined): string | number => (c && 'value' in c ? c.value : 'n/a');
const value = (c: MetricCell | undefined): number | undefined => (c && 'value' in c ? c.value : undefined);

function meanOf(r: EvaluationResult, categories: readonly string[], metric: string): number | undefined {
  const vals = r.categories
    .filter((c) => categories.includes(c.category))
    .map((c) => value(c.metrics[metric]))
    .filter((v): v is number => v !== undefined);
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : undefined;
}

function dataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

export async function runDemo(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const started = performance.now();
  const o = await resolveCommandOptions(DEMO_SCHEMA, DEMO_DEFAULTS, flags);
  if (o.size % 8 !== 0) throw new CliError(`option --size must be a multiple of 8 (the tiny backbone's patch), found ${o.size}`, EXIT.usage);
  const overlap = o.unseenDomains.filter((d) => o.trainDomains.includes(d));
  if (overlap.length > 0) throw new CliError(`--unseen-domains must not repeat training domains (${overlap.join(', ')})`, EXIT.usage);
  const outDir = await ensureWritableDir(o.out);
  const backend = await ctx.backend(o.backend);
  const dataDir = join(outDir, 'data');
  const auxDir = join(dataDir, 'auxiliary');
  const evalDir = join(dataDir, 'evaluation');
  const cacheDir = join(outDir, 'cache');
  const checkpointDir = join(outDir, 'checkpoint');

  ctx.info(
    `generating synthetic images (${o.size} px): auxiliary set ${o.trainDomains.join(', ')}; evaluation set ${[...o.trainDomains, ...o.unseenDomains].join(', ')}`,
  );
  await rm(dataDir, { recursive: true, force: true });
  const kinds = [...ANOMALY_KINDS];
  await writeSyntheticDataset(auxDir, {
    seed: `demo-auxiliary-${o.seed}`,
    size: o.size,
    domains: o.trainDomains as SyntheticDomain[],
    kinds,
    trainGood: 0,
    testGood: o.trainGood,
    testPerKind: o.trainPerKind,
  });
  await writeSyntheticDataset(evalDir, {
    seed: `demo-evaluation-${o.seed}`,
    size: o.size,
    domains: [...o.trainDomains, ...o.unseenDomains] as SyntheticDomain[],
    kinds,
    trainGood: 0,
    testGood: o.evalGood,
    testPerKind: o.evalPerKind,
  });
  const trainSamples = (await readDatasetFromDisk(auxDir, { format: 'mvtec' })).samples;
  const evalSamples = (await readDatasetFromDisk(evalDir, { format: 'mvtec' })).samples;
  const count = (s: DatasetSample[]) => `${s.length} images (${s.filter((x) => x.label === 1).length} anomalous)`;
  ctx.info(`training on ${count(trainSamples)}; evaluating on ${count(evalSamples)}`);

  const config = demoModelConfig(o.size);
  const model = await createModel({ config });
  try {
    ctx.info('evaluating the untrained model (baseline)');
    const before = await evaluate({ model, samples: evalSamples, fs: nodeFileSystem, featureCacheDir: cacheDir, batchSize: 16, onProgress: ctx.progress });
    ctx.info(`training ${o.epochs} epochs (batch ${o.batchSize}, learning rate ${o.lr})`);
    const result = await trainWithInterrupt(ctx, (signal) =>
      train({
        model,
        samples: trainSamples,
        fs: nodeFileSystem,
        outDir: checkpointDir,
        featureCacheDir: cacheDir,
        epochs: o.epochs,
        batchSize: o.batchSize,
        adam: { learningRate: o.lr },
        seed: o.seed,
        resume: false,
        onProgress: ctx.progress,
        signal,
      }),
    );
    if (result.interrupted) {
      ctx.io.stderr.write(`interrupted: the demo trains from scratch each time; the partial checkpoint is in ${checkpointDir}\n`);
      return EXIT.interrupted;
    }
    ctx.info('evaluating the trained model');
    const after = await evaluate({
      model,
      samples: evalSamples,
      fs: nodeFileSystem,
      featureCacheDir: cacheDir,
      outDir,
      saveMaps: true,
      batchSize: 16,
      keepExamples: EXAMPLE_POOL,
      onProgress: ctx.progress,
    });
    model.scoreSource = 'text-only';
    const textOnly = await evaluate({ model, samples: evalSamples, fs: nodeFileSystem, featureCacheDir: cacheDir, batchSize: 16, metrics: ['image_auroc'] });
    model.scoreSource = 'configured';

    const trainAuroc = meanOf(after, o.trainDomains, 'image_auroc');
    const unseenAuroc = meanOf(after, o.unseenDomains, 'image_auroc');
    const learned = trainAuroc !== undefined && trainAuroc >= o.requireAuroc;
    const reportPath = join(outDir, 'report.html');
    const seconds = (performance.now() - started) / 1000;
    const rel = (p: string) => {
      const r = relative(process.cwd(), p);
      return r === '' ? '.' : r.startsWith('..') ? p : r;
    };
    const hgm = cliInvocation();
    const realModel = [
      `${hgm} weights pull clip-vit-l-14-336`,
      `HF_TOKEN=<token> ${hgm} weights pull dinov3-vitl16   # gated on the hub: accept its licence first`,
      `${hgm} train --model paper --data <VisA root> --out runs/visa`,
      `${hgm} eval --data <MVTec AD root> --checkpoint runs/visa/model.safetensors --out results/mvtec`,
      `${hgm} detect <images or folder> --checkpoint runs/visa/model.safetensors --out detections --threshold 0.5`,
    ];
    const html = renderReport({
      title: 'hgm demo: zero-shot anomaly detection on synthetic images',
      summary: [
        `Model: ${model.model.config.name}, the tiny configuration with random frozen weights (seed 0; nothing downloaded), ${o.size} x ${o.size} px input, patch 8.`,
        `Training (auxiliary set): the labelled images of ${o.trainDomains.join(', ')}: ${count(trainSamples)}, generated with seed "demo-auxiliary-${o.seed}"; ${o.epochs} epochs, batch ${o.batchSize}, Adam learning rate ${o.lr}, backend ${backend.chosen}.`,
        `Evaluation: a separate set generated with seed "demo-evaluation-${o.seed}" (no image is shared with training): held-out images of the training domains and the unseen domain${o.unseenDomains.length > 1 ? 's' : ''} ${o.unseenDomains.join(', ')} (${count(evalSamples)}). Unseen-domain numbers are reported as they are.`,
        `Image score: mean of the top 2% of the anomaly map (score fusion top-k-mean, weight 1): with a random frozen backbone the global token carries little about small defects. The prompt-based score alone is in the column "image AUROC, prompt score".`,
        `Check: mean image AUROC on the held-out images of the training domains is ${trainAuroc?.toFixed(3) ?? 'n/a'} ${o.requireAuroc > 0 ? `(required ${o.requireAuroc}): ${learned ? 'the model learned' : 'NOT reached'}` : '(no threshold required)'}. Total time ${formatDuration(seconds)}.`,
      ],
      tables: [resultsTable(after, before, textOnly, o.trainDomains)],
      lossCurve: {
        series: lossSeries(result.history),
        stepsPerEpoch: Math.ceil(trainSamples.length / o.batchSize),
      },
      exampleColumns: ['input', 'ground truth', 'anomaly map', 'overlay'],
      examples: pickExamples(after.examples, 3).map((e) => ({
        caption: `${e.category}${o.unseenDomains.includes(e.category) ? ' (unseen)' : ''} / ${e.sample.defectType} - score ${e.score.toFixed(3)}`,
        images: [dataUrl(e.input), dataUrl(e.groundTruth), dataUrl(e.heatmap), dataUrl(e.overlay)],
      })),
      colorScale: {
        min: after.mapScale.min,
        max: after.mapScale.max,
        label: `${describeScale(after.mapScale)} (maps/colorbar.png; --map-scale run in eval and detect spans the run's own range)`,
      },
      footer: [
        `Files: metrics.md, metrics.csv, metrics.json, scores.csv, maps/ (a heat map and an overlay per evaluation image, and colorbar.png, their colour scale), checkpoint/ (model.safetensors, checkpoint.safetensors, history.json), data/ (the generated images).`,
      ],
      commands: { title: 'To run the real model (DINOv3 ViT-L/16 + CLIP ViT-L/14-336 text tower), from the repository root:', lines: realModel },
    });
    await atomicWriteFile(reportPath, html);
    const summary = {
      command: 'demo',
      backend: backend.chosen,
      seconds,
      out: outDir,
      report: reportPath,
      metrics: { markdown: join(outDir, 'metrics.md'), csv: join(outDir, 'metrics.csv'), json: join(outDir, 'metrics.json') },
      checkpoint: join(checkpointDir, 'model.safetensors'),
      trainDomains: o.trainDomains,
      unseenDomains: o.unseenDomains,
      trainImages: trainSamples.length,
      evalImages: evalSamples.length,
      epochs: o.epochs,
      finalLoss: result.history[result.history.length - 1]?.loss ?? null,
      trainingDomainImageAuroc: trainAuroc ?? null,
      trainingDomainImageAurocBefore: meanOf(before, o.trainDomains, 'image_auroc') ?? null,
      trainingDomainPixelAuroc: meanOf(after, o.trainDomains, 'pixel_auroc') ?? null,
      unseenImageAuroc: unseenAuroc ?? null,
      unseenPixelAuroc: meanOf(after, o.unseenDomains, 'pixel_auroc') ?? null,
      requiredAuroc: o.requireAuroc,
      learned,
      categories: after.categories,
    };
    ctx.result(
      summary,
      [
        '',
        evaluationMarkdown(after),
        `training domains (${o.trainDomains.join(', ')}), held-out images: image AUROC ${fmt(trainAuroc)} (untrained ${fmt(meanOf(before, o.trainDomains, 'image_auroc'))}), pixel AUROC ${fmt(meanOf(after, o.trainDomains, 'pixel_auroc'))}`,
        `unseen domain${o.unseenDomains.length > 1 ? 's' : ''} (${o.unseenDomains.join(', ')}): image AUROC ${fmt(unseenAuroc)}, pixel AUROC ${fmt(meanOf(after, o.unseenDomains, 'pixel_auroc'))}`,
        o.requireAuroc <= 0
          ? 'check off (--require-auroc 0)'
          : learned
            ? `check passed: training-domain image AUROC ${fmt(trainAuroc)} >= ${o.requireAuroc}: the model learned`
            : `check FAILED: training-domain image AUROC ${fmt(trainAuroc)} < ${o.requireAuroc}`,
        '',
        `report:     ${rel(reportPath)}`,
        `metrics:    ${rel(join(outDir, 'metrics.md'))} (.csv, .json), scores.csv, maps/`,
        `checkpoint: ${rel(join(checkpointDir, 'model.safetensors'))}`,
        `time:       ${formatDuration(seconds)} on ${backend.chosen}`,
        '',
        'To run the real model (DINOv3 ViT-L/16 + CLIP ViT-L/14-336 text tower):',
        ...realModel.map((l) => `  ${l}`),
      ].join('\n'),
    );
    return learned ? EXIT.ok : EXIT.failed;
  } finally {
    model.dispose();
  }
}

/** Examples kept per category by the evaluation, to choose from. */
const EXAMPLE_POOL = 24;

/**
 * Up to `perCategory` examples per category, each of another defect kind, the kinds rotating from one
 * category to the next (chosen by position, never by score).
 */
export function pickExamples(examples: readonly EvaluationExample[], perCategory: number): EvaluationExample[] {
  const byCategory = new Map<string, EvaluationExample[]>();
  for (const e of examples) byCategory.set(e.category, [...(byCategory.get(e.category) ?? []), e]);
  const out: EvaluationExample[] = [];
  [...byCategory.values()].forEach((list, i) => {
    const kinds = [...new Set(list.map((e) => e.sample.defectType))];
    const chosen: EvaluationExample[] = [];
    for (let k = 0; k < kinds.length && chosen.length < perCategory; k++) {
      const kind = kinds[(i * perCategory + k) % kinds.length]!;
      const e = list.find((x) => x.sample.defectType === kind);
      if (e) chosen.push(e);
    }
    out.push(...chosen);
  });
  return out;
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : v.toFixed(3);
}

function resultsTable(after: EvaluationResult, before: EvaluationResult, textOnly: EvaluationResult, trainDomains: readonly string[]): ReportTable {
  const rows: (string | number)[][] = [];
  const metrics = ['image_auroc', 'image_ap', 'image_f1_max', 'pixel_auroc', 'pixel_ap', 'aupro_mvtec@0.3'];
  const find = (r: EvaluationResult, cat: string) => r.categories.find((c) => c.category === cat);
  for (const c of after.categories) {
    const role = trainDomains.includes(c.category) ? 'trained' : 'unseen';
    rows.push([
      c.category,
      role,
      String(c.images),
      String(c.anomalous),
      ...metrics.map((m) => pct(c.metrics[m])),
      pct(find(textOnly, c.category)?.metrics['image_auroc']),
      pct(find(before, c.category)?.metrics['image_auroc']),
    ]);
  }
  const groups: [string, string[]][] = [
    ['mean, trained domains', after.categories.map((c) => c.category).filter((c) => trainDomains.includes(c))],
    ['mean, unseen', after.categories.map((c) => c.category).filter((c) => !trainDomains.includes(c))],
  ];
  for (const [label, cats] of groups) {
    if (cats.length === 0) continue;
    const m = (r: EvaluationResult, metric: string) => meanOf(r, cats, metric) ?? 'n/a';
    const imgs = after.categories.filter((c) => cats.includes(c.category));
    rows.push([
      label,
      '',
      String(imgs.reduce((a, c) => a + c.images, 0)),
      String(imgs.reduce((a, c) => a + c.anomalous, 0)),
      ...metrics.map((x) => m(after, x)),
      m(textOnly, 'image_auroc'),
      m(before, 'image_auroc'),
    ]);
  }
  return {
    title: 'Results (zero-shot protocol)',
    columns: [
      'category',
      'domain',
      'images',
      'anomalous',
      'image AUROC',
      'image AP',
      'image F1-max',
      'pixel AUROC',
      'pixel AP',
      'AUPRO@0.3',
      'image AUROC, prompt score',
      'image AUROC, untrained',
    ],
    rows,
    note: 'Values are fractions (1 = perfect, 0.5 = chance for AUROC). Domain "trained": held-out images of a training domain; "unseen": a domain never trained on. "untrained": the same model before training (learnable parts at their initialisation). AUPRO integrates the per-region overlap up to a false-positive rate of 0.3, normalised.',
  };
}

function lossSeries(history: readonly StepRecord[]): { name: string; values: number[] }[] {
  const terms = Object.keys(history[0]?.terms ?? {});
  return [{ name: 'total', values: history.map((h) => h.loss) }, ...terms.map((t) => ({ name: t, values: history.map((h) => h.terms[t] ?? NaN) }))];
}

export function registerDemo(program: Command, action: ActionFactory): void {
  program
    .command('demo')
    .description(
      'offline demo: synthetic images, train the tiny model, evaluate zero-shot, write an HTML report (a few minutes on 2 cores; nothing downloaded)',
    )
    .option('--out <dir>', 'output folder (default out/demo)')
    .option('--epochs <n>', `epochs (default ${DEMO_DEFAULTS.epochs})`)
    .option('--size <px>', `image side, a multiple of 8 (default ${DEMO_DEFAULTS.size})`)
    .option('--batch-size <n>', `batch size (default ${DEMO_DEFAULTS.batchSize})`)
    .option('--lr <x>', `learning rate (default ${DEMO_DEFAULTS.lr})`)
    .option('--seed <n>', `seed of the data and training (default ${DEMO_DEFAULTS.seed})`)
    .option('--train-domains <list>', `training domains (default ${DEMO_DEFAULTS.trainDomains.join(',')})`)
    .option('--unseen-domains <list>', `domains never trained on (default ${DEMO_DEFAULTS.unseenDomains.join(',')})`)
    .option('--train-good <n>', `normal training images per domain (default ${DEMO_DEFAULTS.trainGood})`)
    .option('--train-per-kind <n>', `anomalous training images per domain and defect kind (6 kinds; default ${DEMO_DEFAULTS.trainPerKind})`)
    .option('--eval-good <n>', `normal evaluation images per domain (default ${DEMO_DEFAULTS.evalGood})`)
    .option('--eval-per-kind <n>', `anomalous evaluation images per domain and kind (default ${DEMO_DEFAULTS.evalPerKind})`)
    .option('--require-auroc <x>', `exit 1 when the training-domain image AUROC is below this (default ${DEMO_DEFAULTS.requireAuroc}; 0 turns the check off)`)
    .option('--backend <name>', `auto, cpu, wasm, webgpu or tensorflow (default ${DEMO_DEFAULTS.backend})`)
    .option('--config <file>', 'JSON or YAML file with these options (camelCase keys); flags override it')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--verbose', 'more detail')
    .addHelpText(
      'after',
      '\nA quick smoke run: hgm demo --epochs 1 --size 32 --train-good 2 --train-per-kind 1 --eval-good 2 --eval-per-kind 1 --require-auroc 0',
    )
    .action(action('demo', runDemo));
}
