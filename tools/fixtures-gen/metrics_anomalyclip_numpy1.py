"""Writes fixtures/metrics/case-13 ... case-18: AnomalyCLIP's AUPRO (`cal_pro_score`) on logit-range maps, computed by
AnomalyCLIP's own metrics.py under NumPy 1.x.

Why: in `cal_pro_score`, `delta = (max_th - min_th) / max_step` divides a NumPy float32 scalar by a Python int.
Under NumPy 1.x (value-based casting, what AnomalyCLIP ran under: Python 3.8, scipy 1.9.1, scikit-image 0.20) that
quotient is a float64, so `np.arange(min_th, max_th, delta)` yields float64 thresholds; each comparison
`amaps <= th` / `amaps > th` of the float32 maps with a float64 scalar is then done in float32 (the scalar is
rounded to float32). These cases pin both rules: seeded random logit maps in about [-5, 2], and maps whose values
sit on or next to the float32 roundings of the thresholds.

The reference is not reimplemented: AnomalyCLIP's metrics.py is imported from a checkout of zqhang/AnomalyCLIP at
commit 45ed4dd35c05797d854294b5e8d585c545920089 and called as its test.py calls it (float32 masks and maps).

Run with Debian bookworm's python3 (numpy 1.24.2, scipy 1.10.1, scikit-learn 1.2.1, scikit-image 0.19.3):
    /usr/bin/python3 tools/fixtures-gen/metrics_anomalyclip_numpy1.py /path/to/AnomalyCLIP
"""
import importlib.util
import json
import os
import re
import struct
import sys

import numpy as np
from scipy import ndimage

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "metrics")
COMMIT = "45ed4dd35c05797d854294b5e8d585c545920089"


def load_reference(checkout):
    spec = importlib.util.spec_from_file_location("anomalyclip_metrics", os.path.join(checkout, "metrics.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_safetensors(path, tensors, case):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype("float32"): "F32", np.dtype("uint8"): "U8"}[arr.dtype]
        data = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"case": case}
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def random_masks(rng, n, h, w, normal):
    masks = np.zeros((n, h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        if i in normal:
            continue
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(1.5, h / 5), rng.uniform(1.5, w / 5)
            masks[i][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
    return masks


def logit_maps(rng, masks, lo, hi):
    n, h, w = masks.shape
    noise = ndimage.gaussian_filter(rng.normal(size=(n, h, w)), sigma=(0, 1.5, 1.5))
    blurred = np.stack([ndimage.gaussian_filter(m.astype(np.float64), 1.5) for m in masks])
    logits = 5.0 * blurred + 1.2 * noise / noise.std() - 2.8
    return np.clip(logits, lo, hi).astype(np.float32)


def on_threshold_grid(rng, maps, max_step=200):
    """Moves most values onto the float32 roundings of the reference's float64 thresholds, or one float32 step beside them."""
    lo, hi = maps.min(), maps.max()
    delta = (hi - lo) / max_step  # float64 under NumPy 1.x
    th = np.arange(lo, hi, delta)
    grid = th.astype(np.float32)
    out = maps.copy().ravel()
    pick = rng.random(out.size) < 0.8
    idx = np.clip(np.searchsorted(grid, out[pick]), 0, grid.size - 1)
    shift = rng.integers(-1, 2, size=idx.size)
    vals = grid[idx]
    vals = np.where(shift < 0, np.nextafter(vals, np.float32(-np.inf)), np.where(shift > 0, np.nextafter(vals, np.float32(np.inf)), vals))
    out[pick] = np.clip(vals, lo, hi)
    return out.reshape(maps.shape).astype(np.float32)


CASES = [
    # (dir, seed, n, h, w, normal images, lo, hi, grid)
    ("case-13", 101, 4, 32, 32, {1}, -5.0, 2.0, False),
    ("case-14", 102, 6, 40, 24, {0, 3}, -5.0, 2.0, False),
    ("case-15", 103, 3, 56, 48, set(), -4.5, 1.75, False),
    ("case-16", 104, 5, 30, 36, {4}, -5.0, 2.0, True),
    ("case-17", 105, 8, 20, 20, {2, 5}, -3.0, 2.0, True),
    ("case-18", 106, 2, 64, 64, set(), -5.0, 1.9, False),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: metrics_anomalyclip_numpy1.py /path/to/AnomalyCLIP (a checkout at %s)" % COMMIT)
    ref = load_reference(sys.argv[1])
    index_path = os.path.join(ROOT, "index.json")
    with open(index_path) as f:
        text = f.read()
    for case_dir, seed, n, h, w, normal, lo, hi, grid in CASES:
        rng = np.random.default_rng(seed)
        masks = random_masks(rng, n, h, w, normal)
        maps = logit_maps(rng, masks, lo, hi)
        if grid:
            maps = on_threshold_grid(rng, maps)
        name = "pixel_%dx%dx%d_logits_seed%d%s" % (n, h, w, seed, "_threshold_grid" if grid else "")
        mins, maxs = maps.min(), maps.max()
        delta = (maxs - mins) / 200
        expected = {}
        for fpr in (0.3, 0.1):
            expected["aupro_anomalyclip@%g" % fpr] = float(ref.cal_pro_score(masks.astype(np.float32), maps, max_step=200, expect_fpr=fpr))
        out = os.path.join(ROOT, case_dir)
        os.makedirs(out, exist_ok=True)
        write_safetensors(os.path.join(out, "inputs.safetensors"), {"maps": maps, "masks": masks}, name)
        inputs = {"maps": {"dtype": "float32", "shape": [n, h, w]}, "masks": {"dtype": "uint8", "shape": [n, h, w]}}
        doc = {
            "case": name,
            "kind": "pixel",
            "description": "seeded logit-range maps in [%g, %g]%s; normal images %s; AnomalyCLIP's AUPRO under NumPy 1.x (float64 step, float32 comparisons)"
            % (lo, hi, ", most values on or one float32 step beside the float32 roundings of the thresholds" if grid else "", sorted(normal) or "none"),
            "inputs": inputs,
            "expected": expected,
            "notes": {
                "min": float(mins),
                "max": float(maxs),
                "delta_dtype": type(delta).__name__,
                "delta": float(delta),
                "delta_float32": float(np.float32(delta)),
                "positive_pixels": int(masks.sum()),
            },
            "references": {
                k: "AnomalyCLIP %s metrics.py cal_pro_score(masks.astype(float32), maps, max_step=200, expect_fpr=%s)  (float64 result)" % (COMMIT[:7], k.split("@")[1])
                for k in expected
            },
            "versions": {
                "python": sys.version.split()[0],
                "numpy": np.__version__,
                "scipy": __import__("scipy").__version__,
                "sklearn": __import__("sklearn").__version__,
                "skimage": __import__("skimage").__version__,
            },
        }
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        with open(os.path.join(out, "fixture.json"), "w") as f:
            f.write('{"kind": "metrics"}')
        if '"dir": "%s"' % case_dir not in text:
            entry = json.dumps({"dir": case_dir, "case": name, "kind": "pixel", "inputs": inputs}, indent=1)
            entry = re.sub(r"\[\s+([^\]]*?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", entry)
            entry = "\n".join(" " + line for line in entry.split("\n"))
            text = text.rstrip()[:-1].rstrip() + ",\n" + entry + "\n]\n"
        print(case_dir, name, json.dumps(expected), "delta", type(delta).__name__)
    with open(index_path + ".tmp", "w") as f:
        f.write(text)
    os.replace(index_path + ".tmp", index_path)


if __name__ == "__main__":
    main()
