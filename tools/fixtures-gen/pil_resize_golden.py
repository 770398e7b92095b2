"""Writes fixtures/resize: PIL's own resize and centre-crop outputs for a few fixture images, to check the
PIL-exact resampling of @hgm/data (resizePlanar, planResize, preprocessImage) against PIL itself.

Sources (PIL's decoding of them, as the reference pipelines read images):
- fixtures/decode/rgb8.png (61 x 48 RGB) and fixtures/decode/gray.jpg (61 x 48 L),
- fixtures/preprocess/image.png (300 x 260 RGB).
Each case resizes with Image.resize(size, BICUBIC or BILINEAR) (reducing_gap None: one resampling), then,
for the pipeline cases, crops as torchvision's Resize(r) + CenterCrop(s) on PIL images do (shorter side to r,
longer side int(r * long / short), crop offset int(round((dim - s) / 2)), Python's half-to-even round).
Two outputs per case:
- `<name>.u8.bin`: the 8-bit image PIL makes (its fixed-point passes, rounded and clipped to 0..255 after
  each pass), raw bytes as np.array gives them (H x W x C, or H x W for L);
- `<name>.f32.bin`: the same resize and crop of the image in PIL's 32-bit float mode 'F', one channel at a
  time, from float32(value / 255) (double division, then float32): PIL's float path (double coefficients,
  double accumulation, float32 storage after each pass, no clipping), little-endian float32, planar C x H x W.
index.json lists the cases. Run from the repository root with Debian bookworm's python3-pil (Pillow 9.4.0)
and numpy 1.24.2:
    /usr/bin/python3 tools/fixtures-gen/pil_resize_golden.py
"""
import json
import os

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "fixtures", "resize")
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def shorter_side_then_crop(w, h, r, s):
    """torchvision Resize(r) then CenterCrop(s): the resized size and the crop's top-left corner."""
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(r * long / short)
    rw, rh = (r, new_long) if w <= h else (new_long, r)
    return (rw, rh), (int(round((rw - s) / 2.0)), int(round((rh - s) / 2.0)))


def main():
    os.makedirs(OUT, exist_ok=True)
    sources = {
        "decode/rgb8.png": Image.open(os.path.join(ROOT, "fixtures", "decode", "rgb8.png")).convert("RGB"),
        "decode/gray.jpg": Image.open(os.path.join(ROOT, "fixtures", "decode", "gray.jpg")),
        "preprocess/image.png": Image.open(os.path.join(ROOT, "fixtures", "preprocess", "image.png")).convert("RGB"),
    }
    # (name, source, filter, resize [w, h] or ("shorter", r, s))
    plans = [
        ("rgb8-down-23x17-bicubic", "decode/rgb8.png", "bicubic", (23, 17)),
        ("rgb8-down-23x17-bilinear", "decode/rgb8.png", "bilinear", (23, 17)),
        ("rgb8-up-97x75-bicubic", "decode/rgb8.png", "bicubic", (97, 75)),
        ("rgb8-up-97x75-bilinear", "decode/rgb8.png", "bilinear", (97, 75)),
        ("rgb8-mixed-40x70-bicubic", "decode/rgb8.png", "bicubic", (40, 70)),
        ("rgb8-squash-64-bicubic", "decode/rgb8.png", "bicubic", (64, 64)),
        ("rgb8-shorter-32-crop-32-bicubic", "decode/rgb8.png", "bicubic", ("shorter", 32, 32)),
        ("rgb8-shorter-37-crop-32-bicubic", "decode/rgb8.png", "bicubic", ("shorter", 37, 32)),
        ("gray-up-97x75-bicubic", "decode/gray.jpg", "bicubic", (97, 75)),
        ("image-squash-80-bicubic", "preprocess/image.png", "bicubic", (80, 80)),
        ("image-down-71x53-bilinear", "preprocess/image.png", "bilinear", (71, 53)),
        ("image-shorter-64-crop-64-bicubic", "preprocess/image.png", "bicubic", ("shorter", 64, 64)),
    ]
    cases = []
    for name, source, filt, plan in plans:
        img = sources[source]
        w, h = img.size
        if plan[0] == "shorter":
            _, r, s = plan
            size, (left, top) = shorter_side_then_crop(w, h, r, s)
            box = (left, top, left + s, top + s)
            pipeline = {"resize": "shortest-side-then-center-crop", "resizeSize": r, "size": s}
        else:
            size, box, pipeline = plan, None, None
        u8 = img.resize(size, FILTERS[filt])
        if box:
            u8 = u8.crop(box)
        arr = np.array(u8)
        with open(os.path.join(OUT, name + ".u8.bin"), "wb") as f:
            f.write(arr.astype(np.uint8).tobytes())
        src = np.array(img)
        planes = [src] if src.ndim == 2 else [src[:, :, c] for c in range(src.shape[2])]
        floats = []
        for p in planes:
            f32 = Image.fromarray((p.astype(np.float64) / 255.0).astype(np.float32), mode="F").resize(size, FILTERS[filt])
            if box:
                f32 = f32.crop(box)
            floats.append(np.array(f32, dtype=np.float32))
        with open(os.path.join(OUT, name + ".f32.bin"), "wb") as f:
            f.write(np.stack(floats).astype("<f4").tobytes())
        cases.append({
            "name": name,
            "source": source,
            "source_mode": img.mode,
            "source_size": [w, h],
            "filter": filt,
            "resize": list(size),
            "crop": None if box is None else [box[0], box[1], box[2] - box[0]],
            "pipeline": pipeline,
            "output": [arr.shape[1], arr.shape[0]],
            "channels": len(planes),
        })
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"made_by": "tools/fixtures-gen/pil_resize_golden.py", "pillow": PIL.__version__, "numpy": np.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
