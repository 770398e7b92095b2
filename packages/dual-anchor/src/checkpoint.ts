import { SafetensorsReader, CheckpointMismatchError, type HostTensor, type LoadReport, type ParameterStore } from '@hgm/tensor';
import { anomalyClipIgnoredKeys } from '@hgm/prompts';
import { configDifferences, migrateConfigInput, type DualAnchorConfig } from './config';

/*
 * Checkpoint I/O of the learnable part: the trainable parameters with the configuration in the metadata,
 * strict loading against a model's configuration, and AnomalyCLIP's prompt-learner weights.
 */

/** The learnable parameters as safetensors bytes, with the configuration (JSON) in the metadata. */
export async function saveTrainable(params: ParameterStore, config: DualAnchorConfig): Promise<Uint8Array> {
  return params.saveTrainable(config, { kind: 'dual-anchor' });
}

/**
 * Loads learnable parameters saved by {@link saveTrainable}, strictly: the configuration in the metadata
 * must match this model's (architecture fields; name, seed, loss weights, blur and score fusion may
 * differ) and every key must be present with its shape. Nothing changes when anything is wrong.
 */
export async function loadTrainable(
  params: ParameterStore,
  config: DualAnchorConfig,
  source: Uint8Array | SafetensorsReader,
  name = 'checkpoint',
): Promise<LoadReport> {
  const reader = source instanceof SafetensorsReader ? source : await SafetensorsReader.fromBytes(source, name);
  const meta = reader.metadata ?? {};
  if (meta.kind !== 'dual-anchor' || typeof meta.config !== 'string') {
    throw new CheckpointMismatchError(
      reader.name,
      `${reader.name}: not a Dual-Anchor checkpoint (metadata kind ${JSON.stringify(meta.kind)}, config ${meta.config === undefined ? 'absent' : 'present'})`,
    );
  }
  let saved: DualAnchorConfig;
  try {
    saved = migrateConfigInput(JSON.parse(meta.config) as DualAnchorConfig);
  } catch (e) {
    throw new CheckpointMismatchError(reader.name, `${reader.name}: the config in the metadata is not JSON (${(e as Error).message})`);
  }
  const diffs = configDifferences(architectureOf(config), architectureOf(saved));
  if (diffs.length > 0) throw new CheckpointMismatchError(reader.name, `${reader.name}: saved for another configuration: ${diffs.join('; ')}`);
  return params.loadStateDict(reader, { strict: true, source: reader.name });
}

/**
 * Loads an AnomalyCLIP prompt-learner checkpoint (`prompt_learner.*` keys, e.g. converted from its
 * `.pth`), static prompts only. Buffers and the unused `compound_prompt_projections` are skipped; keys of
 * another prompt length or depth fail naming them.
 * @param keyPrefix the prefix the keys carry ('' for AnomalyCLIP's own `{"prompt_learner": state_dict}`)
 */
export async function loadAnomalyClipPrompts(
  params: ParameterStore,
  entries: Map<string, HostTensor> | SafetensorsReader,
  keyPrefix = 'prompt_learner.',
): Promise<LoadReport> {
  const esc = keyPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return params.loadStateDict(entries, {
    strict: true,
    only: (p) => p.name.startsWith('prompt_learner.'),
    rename: keyPrefix === 'prompt_learner.' ? [] : [{ pattern: `^${esc}`, replacement: 'prompt_learner.' }],
    ignore: [...anomalyClipIgnoredKeys('prompt_learner.'), '^(?!prompt_learner\\.)'],
  });
}

/** The module a learnable parameter belongs to, by name. */
export function moduleOf(name: string): string {
  if (name.startsWith('adapters.')) return 'adapters';
  if (name.startsWith('anchors.')) return 'anchors';
  if (name.startsWith('hgm.')) return 'hgm';
  if (name.startsWith('refiner.')) return 'refiner';
  if (name.startsWith('dsp.')) return 'dsp';
  if (name.startsWith('prompt_learner.')) return 'prompts';
  return 'other';
}

/** The fields of a configuration that a checkpoint must match. */
export function architectureOf(c: DualAnchorConfig): Partial<DualAnchorConfig> {
  const { name: _n, seed: _s, loss: _l, blur: _b, scoreFusion: _f, ...rest } = c;
  return JSON.parse(JSON.stringify(rest)) as Partial<DualAnchorConfig>;
}
