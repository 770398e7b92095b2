import { ConfigError } from '@hgm/tensor';
/**
 * What the DINOv2 and DINOv3 config readers share: typed access to the reference constructor's arguments
 * (snake_case, completed with that constructor's defaults) and the checks of the ViT shape every DINO
 * config makes.
 */

/** Typed readers over a reference constructor's arguments; each throws naming the argument and its value. */
export interface ReferenceArgs {
  /** The arguments completed with the reference defaults. */
  all: Record<string, unknown>;
  num(key: string): number;
  /** A number, or null when the argument is null or absent. */
  numOrNull(key: string): number | null;
  bool(key: string): boolean;
}

/**
 * Reads a reference constructor's arguments (`who` names the source in errors) over its defaults. Only the
 * MLP feed-forward layer is implemented, so any other `ffn_layer` (SwiGLU) throws here.
 */
export function readReferenceArgs(who: string, defaults: Record<string, unknown>, args: Record<string, unknown>): ReferenceArgs {
  const all = { ...defaults, ...args };
  const num = (key: string): number => {
    const v = all[key];
    if (typeof v !== 'number') throw new ConfigError(`${who}: ${key} must be a number, found ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string): boolean => {
    const v = all[key];
    if (typeof v !== 'boolean') throw new ConfigError(`${who}: ${key} must be a boolean, found ${JSON.stringify(v)}`);
    return v;
  };
  const numOrNull = (key: string): number | null => (all[key] === null || all[key] === undefined ? null : num(key));
  if (all['ffn_layer'] !== 'mlp') throw new ConfigError(`${who}: ffn_layer ${JSON.stringify(all['ffn_layer'])} is not implemented (only "mlp")`);
  return { all, num, numOrNull, bool };
}

/** The ViT shape fields both DINO configs hold. */
export interface VitShape {
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  ffnLayer: string;
  layerNormEps: number;
}

/** Checks the shape fields shared by the DINO configs (`who` names the config in errors). */
export function checkVitShape(c: VitShape, who: string): void {
  for (const k of ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new ConfigError(`${who}: ${k} must be a positive integer, found ${JSON.stringify(c[k])}`);
  }
  if (c.embedDim % c.numHeads !== 0) throw new ConfigError(`${who}: embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (c.ffnLayer !== 'mlp') throw new ConfigError(`${who}: ffnLayer must be "mlp" (the only one implemented), found ${JSON.stringify(c.ffnLayer)}`);
  if (!(c.layerNormEps > 0)) throw new ConfigError(`${who}: layerNormEps must be > 0, found ${c.layerNormEps}`);
}
