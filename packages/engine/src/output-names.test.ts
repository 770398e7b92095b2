import { describe, expect, it } from 'vitest';
import { uniqueOutputNames } from './output-names';

describe('uniqueOutputNames', () => {
  it('keeps plain stems when they are unique', () => {
    expect([...uniqueOutputNames(['a/x.png', 'a/y.jpg']).values()]).toEqual(['x', 'y']);
  });

  it('keeps the extension when one folder holds the same stem twice (Y92.jpg and Y92.png)', () => {
    const names = uniqueOutputNames(['data/tumor/Y92.jpg', 'data/tumor/Y92.png', 'data/tumor/Y1.jpg']);
    expect(names.get('data/tumor/Y92.jpg')).toBe('Y92_jpg');
    expect(names.get('data/tumor/Y92.png')).toBe('Y92_png');
    expect(names.get('data/tumor/Y1.jpg')).toBe('Y1');
  });

  it('adds the folder path when stems collide across folders, and a counter for names differing only in case', () => {
    const names = uniqueOutputNames(['d/good/000.png', 'd/crack/000.png', 'd/crack/A b.PNG', 'd/crack/a b.png']);
    expect(names.get('d/good/000.png')).toBe('good__000');
    expect(names.get('d/crack/000.png')).toBe('crack__000');
    const rest = [names.get('d/crack/A b.PNG'), names.get('d/crack/a b.png')];
    expect(new Set(rest.map((n) => n!.toLowerCase())).size).toBe(2);
  });
});
