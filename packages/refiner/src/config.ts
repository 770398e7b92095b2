/** Configuration of the Group-Gated Token Refiner (method step 3). */
import { ConfigError } from '@hgm/tensor';
export interface GroupGatedTokenRefinerConfig {
  /** D, the width of the global token and of the image anchors. */
  dim: number;
  /**
   * How the gate acts on t_cls. 'additive' (default, the paper): t_ref = t_cls + sigmoid(z);
   * 'multiplicative' (choice, a variant): t_ref = t_cls * (1 + sigmoid(z)).
   */
  gate: 'additive' | 'multiplicative';
  /** Epsilon of the LayerNorm over [w_n, w_a]. Default 1e-5 (torch's nn.LayerNorm). */
  layerNormEps: number;
  /** Std of the trunc-normal weight of Linear_{2 -> D} (bias starts at 0). Default 0.02. */
  weightInitStd: number;
  /** Lower bound of each norm in the cosine similarities (torch's cosine_similarity eps). Default 1e-8. */
  cosineEps: number;
}

/** The defaults for D = 768. */
export const DEFAULT_GROUP_GATED_TOKEN_REFINER_CONFIG: GroupGatedTokenRefinerConfig = {
  dim: 768,
  gate: 'additive',
  layerNormEps: 1e-5,
  weightInitStd: 0.02,
  cosineEps: 1e-8,
};

/** Fills defaults and validates, naming the field, what was expected and what was found. */
export function resolveGroupGatedTokenRefinerConfig(partial: Partial<GroupGatedTokenRefinerConfig> = {}): GroupGatedTokenRefinerConfig {
  const c: GroupGatedTokenRefinerConfig = { ...DEFAULT_GROUP_GATED_TOKEN_REFINER_CONFIG, ...partial };
  if (!Number.isInteger(c.dim) || c.dim <= 0) throw new ConfigError(`token refiner dim: expected a positive integer, found ${JSON.stringify(c.dim)}`);
  if (c.gate !== 'additive' && c.gate !== 'multiplicative') {
    throw new ConfigError(`token refiner gate: expected 'additive' or 'multiplicative', found ${JSON.stringify(c.gate)}`);
  }
  if (!(c.layerNormEps > 0)) throw new ConfigError(`token refiner layerNormEps: expected > 0, found ${c.layerNormEps}`);
  if (!(c.weightInitStd >= 0)) throw new ConfigError(`token refiner weightInitStd: expected >= 0, found ${c.weightInitStd}`);
  if (!(c.cosineEps > 0)) throw new ConfigError(`token refiner cosineEps: expected > 0, found ${c.cosineEps}`);
  return c;
}
