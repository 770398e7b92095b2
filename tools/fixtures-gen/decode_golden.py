"""Writes fixtures/decode: small images in every encoding the readers meet, and PIL's decoding of each.

Each image is encoded by PIL itself (JPEG 4:2:0, 4:4:4, progressive, grey; 8-bit RGB, 16-bit grey, 16-bit RGB,
palette and grey+alpha PNG; 24-bit BMP), then decoded by PIL with `np.array(Image.open(path))` (palette
images through `.convert('RGB')`, as the reference pipelines' `convert('RGB')` does). The decoded samples
are stored as raw little-endian bytes (`<name>.pil.bin`, uint8 or uint16) and described in `index.json`.
Run with Debian bookworm's python3-pil (Pillow 9.4.0, libjpeg-turbo 2.1.5) and numpy 1.24.2:
    /usr/bin/python3 tools/fixtures-gen/decode_golden.py
"""
import json
import os

import numpy as np
import PIL
from PIL import Image, features

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "decode")


def textured(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([
        128 + 100 * np.sin(xx / 3.0 + yy / 7.0),
        128 + 100 * np.cos(xx / 5.0 - yy / 2.5),
        128 + 60 * np.sin((xx + yy) / 1.7),
    ], axis=-1)
    base += rng.normal(scale=30.0, size=base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb = textured(48, 61, 1)  # odd width: partial MCUs
    gray16 = (np.linspace(0, 65535, 37 * 29).reshape(29, 37) * 0.9 + np.random.default_rng(2).integers(0, 6000, (29, 37))).clip(0, 65535).astype(np.uint16)
    rgb16 = (textured(23, 19, 3).astype(np.uint16) * 257 + np.random.default_rng(4).integers(0, 257, (23, 19, 3))).astype(np.uint16)
    cases = []

    def save(name, fmt, image, **kw):
        path = os.path.join(OUT, name)
        image.save(path + ".tmp", fmt, **kw)
        os.replace(path + ".tmp", path)
        decoded = Image.open(path)
        mode = decoded.mode
        if mode == "P":
            decoded = decoded.convert("RGBA" if "transparency" in decoded.info else "RGB")
        arr = np.array(decoded)
        channels = 1 if arr.ndim == 2 else arr.shape[2]
        dtype = "uint16" if arr.dtype in (np.uint16, np.dtype(">u2"), np.int32) and mode.startswith("I") else "uint8"
        data = arr.astype("<u2" if dtype == "uint16" else np.uint8).tobytes()
        with open(path + ".pil.bin.tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".pil.bin.tmp", path + ".pil.bin")
        cases.append({"file": name, "pil_mode": mode, "width": arr.shape[1], "height": arr.shape[0], "channels": channels, "dtype": dtype})

    save("rgb-420.jpg", "JPEG", Image.fromarray(rgb), quality=75, subsampling=2)
    save("rgb-444.jpg", "JPEG", Image.fromarray(rgb), quality=92, subsampling=0)
    save("rgb-422.jpg", "JPEG", Image.fromarray(rgb), quality=85, subsampling=1)
    save("progressive-420.jpg", "JPEG", Image.fromarray(rgb), quality=80, subsampling=2, progressive=True)
    save("gray.jpg", "JPEG", Image.fromarray(rgb[:, :, 1]), quality=85)
    save("rgb8.png", "PNG", Image.fromarray(rgb))
    save("gray16.png", "PNG", Image.frombytes("I;16", (37, 29), gray16.astype("<u2").tobytes()))
    # 16-bit RGB: PIL cannot write it, so the PNG is written by hand; PIL reads it as 8-bit RGB (high bytes).
    write_png_rgb16(os.path.join(OUT, "rgb16.png"), rgb16)
    decoded = np.array(Image.open(os.path.join(OUT, "rgb16.png")))
    with open(os.path.join(OUT, "rgb16.png.pil.bin"), "wb") as f:
        f.write(decoded.astype(np.uint8).tobytes())
    cases.append({"file": "rgb16.png", "pil_mode": Image.open(os.path.join(OUT, "rgb16.png")).mode, "width": 19, "height": 23, "channels": 3, "dtype": "uint8"})
    save("palette.png", "PNG", Image.fromarray(rgb).quantize(colors=37))
    save("gray-alpha.png", "PNG", Image.fromarray(np.stack([rgb[:, :, 0], rgb[:, :, 2]], axis=-1), mode="LA"))
    save("rgb24.bmp", "BMP", Image.fromarray(rgb))
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({
            "made_by": "tools/fixtures-gen/decode_golden.py",
            "pillow": PIL.__version__,
            "libjpeg_turbo": features.version("libjpeg_turbo"),
            "numpy": np.__version__,
            "cases": cases,
        }, f, indent=1)
        f.write("\n")
    print(json.dumps(cases, indent=1))


def write_png_rgb16(path, arr):
    import struct
    import zlib
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path + ".tmp", "wb") as f:
        f.write(png)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
