import { describe, expect, it } from 'vitest';
import { parseDinoReferenceRun } from './reference-outputs';

const ctor2 = { img_size: 16, patch_size: 4, embed_dim: 32, depth: 2, num_heads: 2, num_register_tokens: 1, init_values: 1.0 };

describe('parseDinoReferenceRun', () => {
  it('reads cases, n, norm, reshape and the opposite-norm variant name', () => {
    const run = parseDinoReferenceRun(
      {
        constructor: ctor2,
        cases: [
          { input: 'a', prefix: '' },
          { input: 'b', prefix: 'b.', shape: [1, 3, 8, 8] },
        ],
        get_intermediate_layers: { n: 1, norm: false, reshape: true, also_norm_false_as: 'normed.*' },
      },
      'dinov2',
    );
    expect(run.family).toBe('dinov2');
    expect(run.cases).toEqual([
      { input: 'a', prefix: '' },
      { input: 'b', prefix: 'b.', shape: [1, 3, 8, 8] },
    ]);
    expect(run.intermediate).toEqual({ n: 1, variants: { inter: false, normed: true }, reshape: true });
    expect(run.config).toMatchObject({ embedDim: 32, depth: 2, numRegisterTokens: 1, layerScale: true, interpolateOffset: 0.1, interpolateAntialias: false });
  });

  it('defaults to one un-prefixed pixel_values case and the reference constructor defaults', () => {
    const run = parseDinoReferenceRun({ constructor: { embed_dim: 64, num_heads: 4, depth: 1, n_storage_tokens: 2 } }, 'dinov3');
    expect(run.cases).toEqual([{ input: 'pixel_values', prefix: '' }]);
    expect(run.intermediate).toBeUndefined();
    expect(run.config).toMatchObject({ patchSize: 16, ropeBase: 100, layerNormEps: 1e-6, layerScale: false, maskKBias: false, numStorageTokens: 2 });
  });

  it('names what is wrong', () => {
    expect(() => parseDinoReferenceRun({ cases: [] }, 'dinov2', 'x/config.json')).toThrow(/x\/config.json: no "constructor" object/);
    expect(() => parseDinoReferenceRun({ constructor: ctor2, get_intermediate_layers: { also_norm_false_as: 'raw' } }, 'dinov2')).toThrow(/"name\.\*"/);
    expect(() => parseDinoReferenceRun({ constructor: { ...ctor2, ffn_layer: 'swiglufused' } }, 'dinov2')).toThrow(
      /ffn_layer "swiglufused" is not implemented/,
    );
    expect(() => parseDinoReferenceRun({ constructor: { norm_layer: 'rmsnorm' } }, 'dinov3')).toThrow(/norm_layer "rmsnorm"/);
  });
});
