import { describe, it, expect } from 'vitest';
import { stat } from 'node:fs/promises';
import { DecodedStash } from './decoded-stash';

describe('DecodedStash', () => {
  it('gives back maps, 8- and 16-bit images, masks, model inputs and input masks as they were stored, and removes its folder', async () => {
    const stash = await DecodedStash.open('hgm-stash-test-');
    const map = Float32Array.from({ length: 16 }, (_, i) => i / 7);
    const image8 = {
      width: 3,
      height: 2,
      channels: 3 as const,
      bitDepth: 8 as const,
      data: Uint8Array.from({ length: 18 }, (_, i) => i * 13),
      format: 'png' as const,
    };
    const image16 = { width: 2, height: 2, channels: 1 as const, bitDepth: 16 as const, data: Uint16Array.from([0, 1000, 65535, 7]), format: 'png' as const };
    const mask = { width: 3, height: 2, data: Uint8Array.from([0, 1, 1, 0, 0, 1]) };
    const pixels = Float32Array.from({ length: 12 }, (_, i) => -1 + i / 5);
    const inputMask = Uint8Array.from({ length: 16 }, (_, i) => i % 2);
    await stash.put(0, { map, image: image8, mask, pixels, inputMask });
    await stash.put(1, { map: map.subarray(4, 8), image: image16, mask: null });
    await stash.put(2, { map });
    expect(await stash.get(0)).toEqual({ map, image: image8, mask, pixels, inputMask });
    const second = await stash.get(1);
    expect(second.image!.data).toBeInstanceOf(Uint16Array);
    expect(second).toEqual({ map: map.slice(4, 8), image: image16, mask: null });
    expect(await stash.get(2)).toEqual({ map });
    await expect(stash.get(3)).rejects.toThrow(/nothing stored as item 3/);
    await stash.close();
    await expect(stat(stash.dir)).rejects.toThrow();
  });
});
