import { describe, expect, it } from 'vitest';
import { mapToOriginal } from './original-maps';

describe('mapToOriginal', () => {
  it('undoes a squash resize: every pixel evaluated, a constant map stays constant', () => {
    const m = mapToOriginal(new Float32Array(16).fill(0.25), 10, 6, { size: 4, resize: 'squash' });
    expect(Array.from(m.evaluated).every((v) => v === 1)).toBe(true);
    for (const v of m.values) expect(v).toBeCloseTo(0.25, 6);
  });

  it('undoes shortest-side resize and centre crop: the cropped-away sides are not evaluated, the map lies where it was computed', () => {
    // 12 x 4 image -> resized to 12 x 4 (size 4), cropped at x = 4: columns 4..7 of the image are the map
    const map = new Float32Array(16);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) map[y * 4 + x] = x;
    const m = mapToOriginal(map, 12, 4, { size: 4, resize: 'shortest-side-then-center-crop' });
    const row = Array.from(m.evaluated.subarray(0, 12));
    expect(row).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(m.values.subarray(4, 8))).toEqual([0, 1, 2, 3]);
  });

  it('refuses a map of the wrong size', () => {
    expect(() => mapToOriginal(new Float32Array(10), 4, 4, { size: 4, resize: 'squash' })).toThrow(/map has 10 values, expected 4x4 = 16/);
  });
});
