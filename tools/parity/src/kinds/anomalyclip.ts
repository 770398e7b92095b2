/**
 * Parity kind `anomalyclip`: AnomalyCLIP's test.py pipeline composed from the project's packages (CLIP with
 * V-V attention from `@hgm/backbone`, the static prompt learner from `@hgm/prompts`, maps and score from
 * `@hgm/dual-anchor` with every Dual-Anchor module off). Runs every variant the folder holds
 * (`config.json` + `inputs.safetensors` -> `outputs.safetensors`, and `config_interp.json` +
 * `inputs_interp.safetensors` -> `outputs_interp.safetensors` when present) and compares every output
 * tensor. Sizes, layers, prompt settings, DPAM depth, sigma and temperature come from each config file.
 * With the `onnx` executor the vision tower (V-V path included) runs as an ONNX graph, for the tower's
 * outputs and inside the model's forward (maps and score).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostToTensor, type HostTensor } from '@hgm/tensor';
import type { Fixture } from '@hgm/tensor/testing';
import {
  ClipModel,
  clipConfigFromConstructorArgs,
  disposeClipTextOutput,
  disposeClipVisionOutput,
  vvBlocksFromDpamLayer,
  type OpenaiClipConstructorArgs,
} from '@hgm/backbone';
import { loadClipTokenizer } from '@hgm/backbone/node';
import {
  DualAnchorModel,
  anomalyClipConfig,
  clipVisionBackbone,
  disposeDualAnchorOutput,
  disposeVisionFeatures,
  l2Normalize,
  stateLogits,
  type DualAnchorOutput,
} from '@hgm/dual-anchor';
import { OnnxTextTower, type OnnxImageEncoder } from '@hgm/onnx';
import { compareExact, compareOutput, DEFAULT_TOLERANCE, type ParityRow } from '../compare';
import { onnxClipBackbone, onnxClipEncoder, onnxClipForward } from '../onnx-clip';
import { isOnnx, onnxProviders, type ParityOptions } from '../run-parity';

interface AnomalyClipFixtureConfig {
  constructor: OpenaiClipConstructorArgs;
  derived: { vision_heads: number; image_size: number };
  AnomalyCLIP_parameters: { Prompt_length: number; learnabel_text_embedding_depth: number; learnabel_text_embedding_length: number };
  hyperparameters: {
    DPAM_layer: number | null;
    'features_list (1-based block indices)': number[];
    feature_map_layer: number[];
    sigma: number;
    temperature: number;
    classnames: string[];
    state_normal_list: string[];
    state_anomaly_list: string[];
  };
}

const VARIANTS = [
  { config: 'config.json', inputs: 'inputs.safetensors', outputs: 'outputs.safetensors', label: '' },
  { config: 'config_interp.json', inputs: 'inputs_interp.safetensors', outputs: 'outputs_interp.safetensors', label: 'interp:' },
];

export async function runFixture(fixture: Fixture, options: ParityOptions = {}): Promise<ParityRow[]> {
  const rows: ParityRow[] = [];
  let ran = 0;
  for (const v of VARIANTS) {
    if (!(await fixture.hasFile(v.config))) continue;
    ran++;
    rows.push(...(await runVariant(fixture, v, options)));
  }
  if (ran === 0) throw new Error(`${fixture.folder}: no config.json`);
  return rows;
}

async function runVariant(fixture: Fixture, v: (typeof VARIANTS)[number], options: ParityOptions): Promise<ParityRow[]> {
  const cfg = await fixture.json<AnomalyClipFixtureConfig>(v.config);
  const hp = cfg.hyperparameters;
  if ((hp.feature_map_layer[0] ?? 0) !== 0)
    throw new Error(`${v.config}: feature_map_layer[0] = ${hp.feature_map_layer[0]} (maps from a subset of layers) is not supported`);
  const clipConfig = clipConfigFromConstructorArgs(cfg.constructor, { name: fixture.folder, visionHeads: cfg.derived.vision_heads });
  const vvAttentionBlocks = vvBlocksFromDpamLayer(hp.DPAM_layer);
  const layers = hp['features_list (1-based block indices)'].map((l) => l - 1);
  const reader = await fixture.weightsFile();
  const weights = await reader.readAllHost();
  const tokenizer = await loadClipTokenizer();
  let clip: ClipModel | null = null;
  let model: DualAnchorModel | null = null;
  let onnx: OnnxImageEncoder | null = null;
  let tower: OnnxTextTower | null = null;
  const produced = new Map<string, tf.Tensor>();
  const rows: ParityRow[] = [];
  try {
    clip = await ClipModel.fromStateDict(clipConfig, weights, { vvAttentionBlocks, ignore: ['^prompt_learner\\.'] });
    const c = clip;
    const allBlocks = [...new Set([...layers, ...Array.from({ length: clipConfig.vision.layers }, (_, i) => i)])].sort((a, b) => a - b);
    if (isOnnx(options.executor)) onnx = await onnxClipEncoder(c, allBlocks, options.executor);
    model = new DualAnchorModel(
      anomalyClipConfig({
        name: `anomalyclip parity ${v.config}`,
        clip: clipConfig,
        backbone: { kind: 'clip', vvAttentionBlocks, globalToken: 'no-ln-post' },
        layers,
        imageSize: cfg.derived.image_size,
        temperature: hp.temperature,
        blur: { sigma: hp.sigma, truncate: 4 },
        staticPrompts: {
          contextTokens: cfg.AnomalyCLIP_parameters.Prompt_length,
          deepPromptDepth: cfg.AnomalyCLIP_parameters.learnabel_text_embedding_depth,
          deepPromptLength: cfg.AnomalyCLIP_parameters.learnabel_text_embedding_length,
          className: hp.classnames[0]!,
          normalPhrase: hp.state_normal_list[0]!,
          anomalyPhrase: hp.state_anomaly_list[0]!,
        },
      }),
      {
        backbone: onnx ? onnxClipBackbone(onnx, c) : clipVisionBackbone(c.vision, 'no-ln-post'),
        text: c.text,
        tokenizer,
        dispose: () => undefined,
        frozenVariables: () => c.params.entries().map((p) => p.variable),
      },
    );
    await model.loadAnomalyClipPrompts(weights);
    const inputs = await fixture.tensors(v.inputs);
    const expected = await fixture.tensors(v.outputs);
    const weightsHost = new Map<string, HostTensor>();
    for (const [n, t] of weights) if (/^prompt_learner\.(token_prefix|token_suffix|tokenized_prompts)_/.test(n)) weightsHost.set(n, t);
    const pixelsHost = inputs.get('pixel_values');
    if (!pixelsHost) throw new Error(`${v.inputs}: no pixel_values`);
    const pixels = hostToTensor(pixelsHost) as tf.Tensor4D;
    produced.set('__pixels', pixels);

    // Text side: prompts, block outputs, features.
    const prompts = model.prompts(null);
    produced.set('prompts', prompts.embeddings);
    const text = model.encodePrompts(null, { hiddenStates: true });
    produced.set('text_features_raw', text.textEmbeds);
    if (isOnnx(options.executor)) {
      // the text tower's ONNX graph on the learned prompts (compound tokens included), also for the forward below
      tower = OnnxTextTower.fromClip(c, onnxProviders(options.executor));
      produced.set(
        'text_features_raw',
        await tower.encode({ tokenEmbeddings: prompts.embeddings, eotIndices: prompts.eotIndices, compoundPrompts: prompts.deepTokens }),
      );
      model.useTextExecutor(tower);
    }
    text.hiddenStates!.forEach((h, i) => produced.set(`text_hidden.${text.hiddenStateLayers![i]}`, h));
    const textFeatures = model.textFeatures(null);
    produced.set('text_features', textFeatures);

    // Vision side, straight from the tower (hidden states and patch features with CLS).
    const vision = onnx ? await onnxClipForward(onnx, c, pixels, allBlocks) : c.vision.forward(pixels, { layers: allBlocks, hiddenStates: true });
    allBlocks.forEach((l, j) => {
      produced.set(`vision_hidden.${l}`, vision.hiddenStates![j]!);
      const vv = vision.vvHiddenStates![j];
      if (vv) produced.set(`vision_hidden_vv.${l}`, vv);
    });
    produced.set('image_features_raw', vision.globalFeature);
    produced.set('image_features', l2Normalize(vision.globalFeature));
    layers.forEach((l, j) => {
      const pf = vision.projectedTokens[allBlocks.indexOf(l)]!;
      produced.set(`patch_features.${j}`, pf);
      produced.set(
        `similarity.${j}`,
        tf.tidy(() => tf.softmax(stateLogits(pf, textFeatures, hp.temperature))),
      );
    });
    produced.set('visual_positional_embedding_used', c.vision.positionalEmbeddingFor(vision.grid));

    // The model's own forward (eval): maps, score, smoothing.
    let out: DualAnchorOutput;
    if (tower) {
      const features = await model.encodeVision(pixels);
      out = await model.predictFromFeatures(features);
      disposeVisionFeatures(features);
    } else out = await model.forward(pixels);
    produced.set('text_probs_full', out.imageProbabilities);
    produced.set('text_probs', out.imageScore);
    out.mapProbabilities.forEach((m, j) => produced.set(`similarity_map.${j}`, m));
    out.layerAnomalyMaps.forEach((m, j) => produced.set(`anomaly_map_layer.${j}`, m));
    produced.set('anomaly_map', out.rawAnomalyMap);
    produced.set('anomaly_map_smoothed', out.anomalyMap);

    for (const [name, exp] of expected) rows.push({ ...(await compareOutput(name, produced.get(name), exp, DEFAULT_TOLERANCE)), name: `${v.label}${name}` });

    // Beyond the outputs: the tokenization and the prompt learner's buffers.
    const ids = inputs.get('tokenized_prompts');
    if (ids)
      rows.push(
        compareExact(
          `${v.label}input tokenized_prompts`,
          prompts.tokenIds.flatMap((r) => Array.from(r)),
          Array.from(ids.data as Int32Array),
          ids.shape,
        ),
      );
    const buffers = model.promptLearner!.buffers();
    for (const [name, t] of buffers) {
      const exp = weightsHost.get(name);
      if (exp) rows.push({ ...(await compareOutput(name, t, exp, { atol: 0, rtol: 0 })), name: `${v.label}weights ${name}` });
    }
    tf.dispose([...buffers.values()]);
    disposeDualAnchorOutput(out);
    for (const t of produced.values()) if (!t.isDisposed) t.dispose();
    disposeClipVisionOutput(vision);
    disposeClipTextOutput(text);
  } finally {
    await onnx?.dispose();
    await tower?.dispose();
    model?.dispose();
    clip?.dispose();
    await reader.close();
  }
  return rows;
}
