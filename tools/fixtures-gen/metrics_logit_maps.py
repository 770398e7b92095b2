"""Writes fixtures/metrics/case-12: pixel metrics on logit-like maps (values in about [-5, 3], outside [0, 1]).

Reference values:
- pixel_auroc, pixel_ap: sklearn.metrics.roc_auc_score / average_precision_score on the flattened arrays;
- pixel_f1_max(_threshold): max of 2PR/(P+R) over sklearn.metrics.precision_recall_curve (0/0 taken as 0),
  first maximum, as the other pixel cases;
- aupro_anomalyclip@0.3: AnomalyCLIP's `metrics.cal_pro_score(masks, amaps, max_step=200, expect_fpr=0.3)`,
  reimplemented below line by line (AnomalyCLIP 45ed4dd, metrics.py): thresholds np.arange over the float32
  min/max with the float32 step, `<=` / `>` binarisation, regions from skimage's `measure.label` (full
  connectivity, i.e. 8-connected in 2-D; scipy.ndimage.label with a 3x3 structure gives the same regions),
  mean overlap per region, FPR over float32 `1 - masks`, FPRs < 0.3 rescaled min-max, sklearn `auc`.

Run with Debian bookworm's python3 (numpy 1.24.2, scipy 1.10.1, scikit-learn 1.2.1):
    /usr/bin/python3 tools/fixtures-gen/metrics_logit_maps.py
"""
import json
import os
import re
import struct

import numpy as np
from scipy import ndimage
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "metrics")
CASE = "case-12"
NAME = "pixel_5x48x40_logits"


def cal_pro_score(masks, amaps, max_step=200, expect_fpr=0.3):
    binary_amaps = np.zeros_like(amaps, dtype=bool)
    min_th, max_th = amaps.min(), amaps.max()
    delta = (max_th - min_th) / max_step
    pros, fprs = [], []
    structure = np.ones((3, 3), dtype=int)
    regions = []
    for mask in masks:
        labelled, n = ndimage.label(mask, structure=structure)
        regions.append([np.nonzero(labelled == k) for k in range(1, n + 1)])
    for th in np.arange(min_th, max_th, delta):
        binary_amaps[amaps <= th], binary_amaps[amaps > th] = 0, 1
        pro = []
        for binary_amap, image_regions in zip(binary_amaps, regions):
            for rows, cols in image_regions:
                tp_pixels = binary_amap[rows, cols].sum()
                pro.append(tp_pixels / rows.size)
        inverse_masks = 1 - masks
        fp_pixels = np.logical_and(inverse_masks, binary_amaps).sum()
        fpr = fp_pixels / inverse_masks.sum()
        pros.append(np.array(pro).mean())
        fprs.append(fpr)
    pros, fprs = np.array(pros), np.array(fprs)
    idxes = fprs < expect_fpr
    fprs = fprs[idxes]
    fprs = (fprs - fprs.min()) / (fprs.max() - fprs.min())
    return auc(fprs, pros[idxes])


def f1_max(labels, scores):
    p, r, t = precision_recall_curve(labels, scores)
    f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) != 0)
    i = int(np.argmax(f1))
    return float(f1[i]), float(t[i])


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype("float32"): "F32", np.dtype("uint8"): "U8"}[arr.dtype]
        data = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"case": NAME}
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    rng = np.random.default_rng(13)
    n, h, w = 5, 48, 40
    yy, xx = np.mgrid[0:h, 0:w]
    masks = np.zeros((n, h, w), dtype=np.uint8)
    masks[0][((yy - 20) / 9.0) ** 2 + ((xx - 14) / 6.0) ** 2 <= 1] = 1
    masks[2][5:9, 30:36] = 1
    masks[2][30, 3] = 1
    masks[3][36:44, 18:22] = 1
    masks[3][12:15, 25:27] = 1
    # images 1 and 4 are normal
    noise = ndimage.gaussian_filter(rng.normal(size=(n, h, w)), sigma=(0, 2, 2))
    blurred = np.stack([ndimage.gaussian_filter(m.astype(np.float64), 2.0) for m in masks])
    logits = 6.0 * blurred + 1.5 * noise / noise.std() - 2.5
    logits[1, 4:10, 4:10] += 2.0  # a false-positive bump on a normal image
    maps = np.clip(logits, -5.0, 3.0).astype(np.float32)
    labels, scores = masks.ravel(), maps.ravel()
    f1, f1_th = f1_max(labels, scores)
    expected = {
        "pixel_auroc": float(roc_auc_score(labels, scores)),
        "pixel_ap": float(average_precision_score(labels, scores)),
        "pixel_f1_max": f1,
        "pixel_f1_max_threshold": f1_th,
        "aupro_anomalyclip@0.3": float(cal_pro_score(masks.astype(np.float32), maps, max_step=200, expect_fpr=0.3)),
    }
    out = os.path.join(ROOT, CASE)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "inputs.safetensors"), {"maps": maps, "masks": masks})
    doc = {
        "case": NAME,
        "kind": "pixel",
        "description": "maps are clipped logits in [-5, 3] (outside [0, 1], mostly negative); images 1 and 4 normal",
        "inputs": {"maps": {"dtype": "float32", "shape": [n, h, w]}, "masks": {"dtype": "uint8", "shape": [n, h, w]}},
        "expected": expected,
        "notes": {"min": float(maps.min()), "max": float(maps.max()), "positive_pixels": int(masks.sum())},
        "references": {
            "pixel_auroc": "sklearn.metrics.roc_auc_score(masks.ravel(), maps.ravel())",
            "pixel_ap": "sklearn.metrics.average_precision_score(masks.ravel(), maps.ravel())",
            "pixel_f1_max": "max 2PR/(P+R) over sklearn.metrics.precision_recall_curve, first maximum",
            "aupro_anomalyclip@0.3": "AnomalyCLIP metrics.py cal_pro_score(masks.astype(float32), maps, max_step=200, expect_fpr=0.3), reimplemented in tools/fixtures-gen/metrics_logit_maps.py",
        },
        "versions": {"numpy": np.__version__, "scipy": __import__("scipy").__version__, "sklearn": __import__("sklearn").__version__},
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "fixture.json"), "w") as f:
        f.write('{"kind": "metrics"}')
    index_path = os.path.join(ROOT, "index.json")
    with open(index_path) as f:
        text = f.read()
    if '"dir": "%s"' % CASE not in text:
        entry = json.dumps({"dir": CASE, "case": NAME, "kind": "pixel", "inputs": doc["inputs"]}, indent=1)
        entry = re.sub(r"\[\s+([^\]]*?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", entry)
        entry = "\n".join(" " + line for line in entry.split("\n"))
        text = text.rstrip()[:-1].rstrip() + ",\n" + entry + "\n]\n"
        with open(index_path + ".tmp", "w") as f:
            f.write(text)
        os.replace(index_path + ".tmp", index_path)
    print(json.dumps(expected, indent=1), doc["notes"])


if __name__ == "__main__":
    main()
