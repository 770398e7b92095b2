import { describe, it, expect } from 'vitest';
import { canonicalImageSize, formatImageSize, imageHW, imageSizeOf, imageSizeProblems, sameImageSize } from './image-size';

describe('image sizes', () => {
  it('a number is a square; a pair is [height, width]; square pairs become a number', () => {
    expect(imageHW(32)).toEqual([32, 32]);
    expect(imageHW([24, 40])).toEqual([24, 40]);
    expect(imageSizeOf(16, 16)).toBe(16);
    expect(imageSizeOf(16, 24)).toEqual([16, 24]);
    expect(canonicalImageSize([8, 8])).toBe(8);
    expect(canonicalImageSize([8, 16])).toEqual([8, 16]);
    expect(sameImageSize(32, [32, 32])).toBe(true);
    expect(sameImageSize([32, 48], [48, 32])).toBe(false);
    expect(formatImageSize(512)).toBe('512');
    expect(formatImageSize([240, 320])).toBe('height 240 x width 320');
  });

  it('names the field, the side and the nearest multiples of the patch size', () => {
    expect(imageSizeProblems('imageSize', 512, 16)).toEqual([]);
    expect(imageSizeProblems('imageSize', [240, 320], 16)).toEqual([]);
    expect(imageSizeProblems('imageSize', 518, 16)).toEqual([
      'imageSize: expected a multiple of the patch size 16, found 518 (the nearest multiples are 512 and 528)',
    ]);
    expect(imageSizeProblems('imageSize', [240, 330], 16)).toEqual([
      'imageSize[1] (width): expected a multiple of the patch size 16, found 330 (the nearest multiples are 320 and 336)',
    ]);
    expect(imageSizeProblems('imageSize', [4, 16], 8)[0]).toMatch(/imageSize\[0\] \(height\).*found 4 \(the nearest multiples are 8 and 16\)/);
    expect(imageSizeProblems('imageSize', [1, 2, 3], 8)[0]).toMatch(/expected a number \(square side\) or \[height, width\], found \[1,2,3\]/);
    expect(imageSizeProblems('imageSize', ['a', 16], 8)[0]).toMatch(/imageSize\[0\] \(height\).*found "a"/);
  });
});
