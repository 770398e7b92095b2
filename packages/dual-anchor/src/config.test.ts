import { describe, expect, it } from 'vitest';
import { PAPER_CONFIG, TINY_CONFIG, anomalyClipConfig, configDifferences, resolveConfig, type DualAnchorConfigInput } from './config';
import { countParameters } from './parameter-count';
import { mergeConfigInput } from './build';

describe('Dual-Anchor configuration', () => {
  it("resolves the paper's configuration with the documented defaults", () => {
    const c = resolveConfig(PAPER_CONFIG);
    expect(c.backbone.kind).toBe('dinov3');
    expect(c.layers).toEqual([5, 11, 17, 23]);
    expect(c.hgm.groupsPerLevel).toEqual([16, 8, 4, 2]);
    expect(c.imageSize).toBe(512);
    expect(c.clip.embedDim).toBe(768);
    expect(c.dsp).toMatchObject({ contextTokens: 12, deepPromptDepth: 9, deepPromptLength: 4 });
    expect(c.temperature).toBe(0.07);
    expect(c.blur).toEqual({ sigma: 4, truncate: 4 });
    expect(c.modules).toEqual({ hgm: true, refiner: true, dsp: true });
    expect(c.loss).toMatchObject({ image: 1, maps: 1, orthogonality: 1, alignment: 1, focalGamma: 2 });
    expect(c.seed).toBe(111);
  });

  it('counts the parameters of the paper configuration from the configs alone', () => {
    const n = countParameters(PAPER_CONFIG);
    const d = 768;
    const lin = (i: number, o: number) => i * o + o;
    // 4 adapters for the tapped layers + 1 for t_cls, each Linear(1024 -> 768)
    expect(n.modules.adapters).toBe(5 * lin(1024, d));
    // 16 initial group tokens; per level: init cross-attention (2 LN + 4 linear), assignment (2 LN + 4 linear), MLP (LN + 768->3072->768)
    const level = 2 * 2 * d + 4 * lin(d, d) + 2 * 2 * d + 4 * lin(d, d) + 2 * d + lin(d, 4 * d) + lin(4 * d, d);
    expect(n.modules.hgm).toBe(16 * d + 4 * level);
    expect(n.modules.refiner).toBe(2 + 2 + 2 * d + d);
    expect(n.modules.dsp).toBe(2 * 12 * d + 2 * d + lin(d, d) + 8 * 4 * d);
    expect(n.modules.prompts + n.modules.anchors).toBe(0);
    expect(n.trainable).toBe(3_936_000 + 37_831_680 + 2_308 + 635_136);
    // DINOv3 ViT-L/16 (4 storage tokens, LayerScale) and the CLIP ViT-L/14 text tower
    expect(n.modules.backbone).toBe(303_154_176);
    expect(n.modules.text).toBe(123_650_304);
    expect(n.total).toBe(n.trainable + n.frozen);
  });

  it('counts the AnomalyCLIP baseline (ViT-L/14@336px, n_ctx 12, depth 9, length 4)', () => {
    const n = countParameters(anomalyClipConfig());
    expect(n.trainable).toBe(2 * 12 * 768 + 8 * 4 * 768);
    expect(n.modules.adapters + n.modules.hgm + n.modules.refiner + n.modules.dsp + n.modules.anchors).toBe(0);
  });

  it("reads the refiner's earlier field names (ggtr, modules.ggtr) as refiner, and refuses both names at once", () => {
    const legacy = { ...TINY_CONFIG, modules: { ggtr: false }, ggtr: { gate: 'multiplicative' } } as unknown as DualAnchorConfigInput;
    const today = resolveConfig({ ...TINY_CONFIG, modules: { refiner: false }, refiner: { gate: 'multiplicative' } });
    expect(resolveConfig(legacy)).toEqual(today);
    expect(today.modules.refiner).toBe(false);
    expect(() => resolveConfig({ ...TINY_CONFIG, refiner: {}, ggtr: {} } as unknown as DualAnchorConfigInput)).toThrow(/give refiner .* or ggtr .*, not both/);
    expect(() => resolveConfig({ ...TINY_CONFIG, modules: { refiner: true, ggtr: true } } as unknown as DualAnchorConfigInput)).toThrow(
      /modules\.refiner or modules\.ggtr/,
    );
  });

  it('explains every invalid field at once', () => {
    expect(() => resolveConfig({ ...PAPER_CONFIG, imageSize: 518, layers: [5, 11, 30], temperature: 0 })).toThrow(
      /imageSize: expected a multiple of the patch size 16, found 518 \(the nearest multiples are 512 and 528\).*layers\[2\]: expected a 0-based block index in \[0, 23\], found 30|layers\[2\].*imageSize/s,
    );
    expect(() => resolveConfig({ ...PAPER_CONFIG, hgm: { groupsPerLevel: [8, 4, 2] } })).toThrow(/hgm.groupsPerLevel: expected one level per tapped layer \(4/);
    expect(() => resolveConfig({ ...PAPER_CONFIG, modules: { hgm: false }, hgm: { groupsPerLevel: [8, 4, 2] } })).not.toThrow();
    expect(() => resolveConfig({ ...TINY_CONFIG, dsp: { deepPromptDepth: 5 } })).toThrow(/dsp.deepPromptDepth: at most 3 for a 3-block text tower, found 5/);
    expect(() => resolveConfig({ loss: { maskDownsampling: 'nearest' as never } })).toThrow(/loss.maskDownsampling: expected one of area, max/);
  });

  it('image sizes: a number (square) or [height, width], each side a multiple of the patch; square pairs resolve to a number', () => {
    expect(resolveConfig({ ...PAPER_CONFIG, imageSize: [384, 512] }).imageSize).toEqual([384, 512]);
    expect(resolveConfig({ ...PAPER_CONFIG, imageSize: [512, 512] }).imageSize).toBe(512);
    const saved = JSON.parse(JSON.stringify(resolveConfig({ ...TINY_CONFIG, imageSize: [24, 40] })));
    expect(resolveConfig(saved).imageSize).toEqual([24, 40]);
    expect(configDifferences(resolveConfig({ ...TINY_CONFIG, imageSize: [32, 32] }), resolveConfig(TINY_CONFIG))).toEqual([]);
    expect(() => resolveConfig({ ...PAPER_CONFIG, imageSize: [384, 518] })).toThrow(
      'imageSize[1] (width): expected a multiple of the patch size 16, found 518 (the nearest multiples are 512 and 528)',
    );
    expect(() => resolveConfig({ ...PAPER_CONFIG, imageSize: [500, 518] })).toThrow(
      /imageSize\[0\] \(height\).*found 500.*imageSize\[1\] \(width\).*found 518/,
    );
    expect(() => resolveConfig({ ...PAPER_CONFIG, imageSize: [512] as never })).toThrow(
      'imageSize: expected a number (square side) or [height, width], found [512]',
    );
  });

  it('merges partial configs and lists differences by path', () => {
    const m = mergeConfigInput(TINY_CONFIG, { modules: { hgm: false }, backbone: { kind: 'dinov3', config: { depth: 6 } } });
    expect(m.modules).toEqual({ hgm: false });
    expect((m.backbone as { config: { depth: number; embedDim: number } }).config).toMatchObject({ depth: 6, embedDim: 32 });
    expect(configDifferences({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] } })).toEqual(['b.c: model [1,2], checkpoint [1,3]']);
  });
});
