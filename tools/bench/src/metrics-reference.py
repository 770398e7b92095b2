"""Reference side of `npm run bench -- metrics`: times the Python reference metrics on the same data.

- pixel AUROC / AP: the sklearn library calls, roc_auc_score and average_precision_score on the flattened pixels.
- image AUROC: sklearn roc_auc_score.
- AUPRO: MVTec AD's evaluation code is not a package, so this is an implementation, written for this
  benchmark, of MVTec's published algorithm (pro_curve_util.compute_pro + generic_util.trapezoid):
  8-connected regions with scipy.ndimage.label and a loop over regions, a full argsort of all scores,
  cumulative sums of FP and per-region-overlap changes, ties merged, (0,0)/(1,1) added, trapezoid up to the limit
  with linear interpolation, divided by the limit. It is labelled "MVTec-style" in the table.

Usage: python3 metrics-reference.py <data dir> <repeats>; prints one JSON object.
"""
import bisect
import json
import sys
import time

import numpy as np
from scipy.ndimage import label
from sklearn.metrics import average_precision_score, roc_auc_score


def mvtec_style_pro_curve(maps, masks):
    structure = np.ones((3, 3), dtype=int)
    n, h, w = maps.shape
    fp_changes = np.zeros((n, h, w), dtype=np.uint32)
    pro_changes = np.zeros((n, h, w), dtype=np.float64)
    num_ok = 0
    num_regions = 0
    for i in range(n):
        labeled, count = label(masks[i], structure)
        num_regions += count
        ok = labeled == 0
        num_ok += int(ok.sum())
        fp_changes[i][ok] = 1
        change = np.zeros((h, w), dtype=np.float64)
        for k in range(count):
            region = labeled == (k + 1)
            change[region] = 1.0 / region.sum()
        pro_changes[i] = change
    scores = maps.ravel().copy()
    order = np.argsort(scores).astype(np.uint32)[::-1]
    scores = scores[order]
    fps = np.cumsum(fp_changes.ravel()[order]).astype(np.float32) / np.float32(num_ok)
    pros = np.cumsum(pro_changes.ravel()[order]) / num_regions
    keep = np.append(np.diff(scores) != 0, True)
    fps = np.clip(fps[keep], None, 1.0)
    pros = np.clip(pros[keep], None, 1.0)
    return np.concatenate(([0.0], fps, [1.0])), np.concatenate(([0.0], pros, [1.0]))


def trapezoid_to(x, y, x_max):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    correction = 0.0
    if x_max not in x:
        ins = bisect.bisect_left(x, x_max)
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (x_max - x[ins - 1])
    keep = x <= x_max
    x, y = x[keep], y[keep]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction)


def timed(fn, repeats):
    best = float('inf')
    value = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return {'value': float(value), 'seconds': best}


def main():
    folder, repeats = sys.argv[1], int(sys.argv[2])
    meta = json.load(open(f'{folder}/meta.json'))
    n, h, w = meta['shape']
    maps = np.fromfile(f'{folder}/maps.f32', dtype=np.float32).reshape(n, h, w)
    masks = np.fromfile(f'{folder}/masks.u8', dtype=np.uint8).reshape(n, h, w)
    labels = np.fromfile(f'{folder}/labels.u8', dtype=np.uint8)
    scores = np.fromfile(f'{folder}/scores.f32', dtype=np.float32)
    out = {
        'image_auroc': timed(lambda: roc_auc_score(labels, scores), repeats),
        'pixel_auroc': timed(lambda: roc_auc_score(masks.ravel(), maps.ravel()), repeats),
        'pixel_ap': timed(lambda: average_precision_score(masks.ravel(), maps.ravel()), repeats),
        'aupro_mvtec@0.3': timed(lambda: trapezoid_to(*mvtec_style_pro_curve(maps, masks), 0.3) / 0.3, repeats),
    }
    import sklearn
    out['versions'] = {'numpy': np.__version__, 'sklearn': sklearn.__version__}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
