import { describe, expect, it } from 'vitest';
import { checkVitShape, readReferenceArgs } from './reference-args';
import { dinov2ConfigFromReference, resolveDinov2Config } from './dinov2-config';
import { dinov3ConfigFromReference, resolveDinov3Config } from './dinov3-config';

describe('DINO config readers', () => {
  it('read arguments over the reference defaults, typed, naming a wrong one', () => {
    const args = readReferenceArgs('test constructor', { ffn_layer: 'mlp', depth: 12, base: null }, { depth: 2, qkv_bias: true });
    expect(args.num('depth')).toBe(2);
    expect(args.bool('qkv_bias')).toBe(true);
    expect(args.numOrNull('base')).toBeNull();
    expect(() => args.num('qkv_bias')).toThrow('test constructor: qkv_bias must be a number, found true');
    expect(() => args.bool('depth')).toThrow('test constructor: depth must be a boolean, found 2');
    expect(() => readReferenceArgs('test constructor', { ffn_layer: 'mlp' }, { ffn_layer: 'swiglu' })).toThrow('ffn_layer "swiglu" is not implemented');
  });

  it('check the shared ViT shape the same way for DINOv2 and DINOv3', () => {
    expect(() => resolveDinov2Config({ depth: 0 })).toThrow('dinov2 config: depth must be a positive integer, found 0');
    expect(() => resolveDinov3Config({ depth: 0 })).toThrow('dinov3 config: depth must be a positive integer, found 0');
    expect(() => resolveDinov2Config({ embedDim: 10, numHeads: 4 })).toThrow('embedDim 10 is not divisible by numHeads 4');
    expect(() => resolveDinov3Config({ layerNormEps: 0 })).toThrow('dinov3 config: layerNormEps must be > 0, found 0');
    expect(() =>
      checkVitShape({ imgSize: 32, patchSize: 8, inChans: 3, embedDim: 16, depth: 1, numHeads: 2, ffnLayer: 'swiglu', layerNormEps: 1e-6 }, 'x'),
    ).toThrow('x: ffnLayer must be "mlp"');
    expect(() => dinov2ConfigFromReference({ ffn_layer: 'swiglufused' })).toThrow('dinov2 reference constructor: ffn_layer "swiglufused" is not implemented');
    expect(() => dinov3ConfigFromReference({ ffn_layer: 'swiglu' })).toThrow('dinov3 reference constructor: ffn_layer "swiglu" is not implemented');
    expect(dinov3ConfigFromReference({ embed_dim: 32, num_heads: 2, depth: 1 }).depth).toBe(1);
  });
});
