/**
 * What a saved model (`model.safetensors` from `hgm train`) records beside its parameters, readable in any
 * runtime: the configuration (metadata `config`) and where its frozen weights came from (`hgm.frozen`).
 */

/** Metadata key of the frozen-weights record in a saved model. */
export const FROZEN_METADATA_KEY = 'hgm.frozen';

/** A weights file as the user named it (catalogue name or path) and what it was. */
export interface WeightsRef {
  /** Catalogue name or path as given. */
  name: string;
  /** Resolved file path at training time. */
  path: string;
  sizeBytes: number;
  /** Set when the file holds seeded random weights (`hgm weights random`): a smoke run, not a detector. */
  random?: { name: string; seed: number };
}

/** One line naming a model's frozen weights, saying plainly when any of them are random. */
export function describeFrozenWeights(frozen: FrozenWeights | undefined): string {
  if (!frozen) return 'frozen weights not recorded';
  if (frozen.kind === 'random') return `random frozen weights (seed ${frozen.seed}): a smoke test, not a detector`;
  const refs = [frozen.clip, frozen.backbone].filter((r): r is WeightsRef => !!r);
  const random = refs.filter((r) => r.random);
  const names = refs.map((r) => (r.random ? `${r.name} (random ${r.random.name}, seed ${r.random.seed})` : r.name)).join(' + ');
  return random.length > 0
    ? `frozen weights ${names}: RANDOM weights of the real shapes, every code path of a real run but no detector`
    : `frozen weights ${names}`;
}

/** Where the frozen weights of a model come from. */
export type FrozenWeights = { kind: 'random'; seed: number } | { kind: 'files'; clip: WeightsRef; backbone?: WeightsRef };

/** The configuration text and frozen-weights record of a saved model, checked. */
export interface SavedModelRecord {
  /** The configuration as saved (JSON text of the config input). */
  configText: string;
  frozen: FrozenWeights | undefined;
}

/**
 * Reads the record of a saved model from its safetensors metadata.
 * @throws Error naming the file when it is a training state, not a model saved by hgm, or its record is unreadable
 */
export function savedModelRecord(metadata: Record<string, string>, name: string): SavedModelRecord {
  if (metadata['format'] === 'hgm-train-checkpoint')
    throw new Error(`checkpoint ${name}: this is a training state for resuming, not a model (use the model.safetensors beside it)`);
  if (metadata['kind'] !== 'dual-anchor' || typeof metadata['config'] !== 'string') {
    throw new Error(
      `checkpoint ${name}: not a model saved by hgm (metadata kind ${JSON.stringify(metadata['kind'])}, config ${metadata['config'] === undefined ? 'absent' : 'present'})`,
    );
  }
  const frozenText = metadata[FROZEN_METADATA_KEY];
  let frozen: FrozenWeights | undefined;
  if (frozenText !== undefined) {
    try {
      frozen = JSON.parse(frozenText) as FrozenWeights;
    } catch (e) {
      throw new Error(`checkpoint ${name}: its ${FROZEN_METADATA_KEY} record is not JSON (${(e as Error).message})`);
    }
    if (frozen.kind !== 'random' && frozen.kind !== 'files')
      throw new Error(`checkpoint ${name}: ${FROZEN_METADATA_KEY} kind ${JSON.stringify((frozen as { kind: unknown }).kind)}, expected "random" or "files"`);
  }
  return { configText: metadata['config'], frozen };
}
