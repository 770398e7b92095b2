/** Result of {@link labelRegions}. */
export interface RegionLabels {
  /** Region id per pixel: 0 for normal pixels, 1..count for the regions, numbered in raster order of each region's first pixel. [H * W] */
  labels: Int32Array;
  /** Number of regions. */
  count: number;
  /** Pixels per region; `sizes[r - 1]` is the size of region r. [count] */
  sizes: Uint32Array;
}

/**
 * Connected regions of a binary mask with 8-connectivity (a pixel touches its 8 neighbours, so regions that
 * meet only at a corner are one region), as `scipy.ndimage.label(mask, np.ones((3, 3)))`,
 * `cv2.connectedComponents` and `skimage.measure.label` do, which all three AUPRO references use.
 * Two-pass labelling with union-find.
 * @param mask nonzero = anomalous pixel. [H * W], row-major
 */
export function labelRegions(mask: ArrayLike<number>, height: number, width: number): RegionLabels {
  const n = height * width;
  const labels = new Int32Array(n);
  const parent: number[] = [0];
  const find = (a: number): number => {
    let r = a;
    while (parent[r]! !== r) r = parent[r]!;
    while (parent[a]! !== r) {
      const next = parent[a]!;
      parent[a] = r;
      a = next;
    }
    return r;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a),
      rb = find(b);
    if (ra === rb) return ra;
    if (ra < rb) {
      parent[rb] = ra;
      return ra;
    }
    parent[ra] = rb;
    return rb;
  };
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (mask[i] === 0) continue;
      let l = 0;
      // already-visited neighbours: W, NW, N, NE
      if (x > 0 && labels[i - 1]! > 0) l = labels[i - 1]!;
      if (y > 0) {
        const up = i - width;
        if (x > 0 && labels[up - 1]! > 0) l = l ? union(l, labels[up - 1]!) : labels[up - 1]!;
        if (labels[up]! > 0) l = l ? union(l, labels[up]!) : labels[up]!;
        if (x + 1 < width && labels[up + 1]! > 0) l = l ? union(l, labels[up + 1]!) : labels[up + 1]!;
      }
      if (l === 0) {
        l = parent.length;
        parent.push(l);
      }
      labels[i] = l;
    }
  }
  // final ids in raster order of first pixel
  const finalId = new Int32Array(parent.length);
  let count = 0;
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    if (l === 0) continue;
    const r = find(l);
    let id = finalId[r]!;
    if (id === 0) {
      id = ++count;
      finalId[r] = id;
      sizes.push(0);
    }
    labels[i] = id;
    sizes[id - 1]!++;
  }
  return { labels, count, sizes: Uint32Array.from(sizes) };
}
