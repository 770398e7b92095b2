"""Writes fixtures/preprocess/: a test image and what the DINOv2 / DINOv3 reference preprocessing makes of it
(run from the repository root):

    /usr/bin/python3 tools/fixtures-gen/reference-preprocess.py

Made with Debian python3-pil (Pillow 9.4.0) and numpy 1.24.2, Python 3.11. torchvision is not installed;
its PIL code path is written out step by step (on PIL images torchvision's Resize calls PIL's resize):
- DINOv2 `make_classification_eval_transform`: Resize(256, BICUBIC) (shorter side to 256, longer side
  int(256 * long / short)), CenterCrop(224) (top-left at int(round((dim - 224) / 2))), ToTensor, Normalize.
- DINOv3 (official README `make_transform`, Hugging Face DINOv3ViTImageProcessor): the whole image
  resized to 224 x 224 with BILINEAR, ToTensor, Normalize.
Both use the ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
"""
import json
import struct

import numpy as np
from PIL import Image

OUT = 'fixtures/preprocess'
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def to_tensor(img):
    a = np.asarray(img, dtype=np.float32) / 255.0
    return ((a - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def dinov2(img):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    size = (256, new_long) if w <= h else (new_long, 256)
    r = img.resize(size, Image.BICUBIC)
    top = int(round((r.size[1] - 224) / 2.0))
    left = int(round((r.size[0] - 224) / 2.0))
    return to_tensor(r.crop((left, top, left + 224, top + 224)))


def dinov3(img):
    return to_tensor(img.resize((224, 224), Image.BILINEAR))


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        b = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def main():
    rng = np.random.default_rng(5)
    # 300 x 260: smooth gradients with edges and some noise, so the filters' differences show.
    y, x = np.mgrid[0:260, 0:300].astype(np.float32)
    r = 127 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0)
    g = np.where((x // 40 + y // 40) % 2 == 0, 200.0, 40.0)
    b = 255 * x / 300 + 20 * rng.standard_normal((260, 300))
    img = Image.fromarray(np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8), 'RGB')
    img.save(f'{OUT}/image.png')
    write_safetensors(f'{OUT}/reference.safetensors', {'dinov2': dinov2(img), 'dinov3': dinov3(img)})


if __name__ == '__main__':
    main()
