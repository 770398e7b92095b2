"""Writes fixtures/vit/pos-embed-non-square/: a square positional table resized to non-square patch grids by
torch's F.interpolate, the way each reference resizes it (run from the repository root):

    /usr/bin/python3 tools/fixtures-gen/pos-embed-non-square.py

Made with Debian python3-torch 1.13.1 (torch.__version__ 1.13.0a0) and numpy 1.24.2, Python 3.11, CPU, float64
arithmetic on float32 data (the result is stored as float32).

- DINOv2 (`DinoVisionTransformer.interpolate_pos_encoding` of facebookresearch/dinov2): the patch rows as an
  M x M grid, [1, D, M, M], resized with `F.interpolate(mode="bicubic", antialias=..., size=(H/p, W/p))`
  when `interpolate_offset` is 0, or with `scale_factor=((H/p + offset) / M, (W/p + offset) / M)` otherwise;
  the CLS row is kept. Cases with antialias on (dinov2_vitl14_reg), off, and offset 0.1 (the older hub
  models).
- CLIP as AnomalyCLIP resizes it (`VisionTransformer.forward`): the same grid resized with
  `F.interpolate(mode="bilinear", align_corners=False, size=(gh, gw))`.
Grids: rows != columns in both directions (fewer rows than M and more columns, and the other way round).
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT = 'fixtures/vit/pos-embed-non-square'
M = 4
DIM = 6
SEED = 16


def patch_grid(table):
    """[1 + M*M, D] -> the patch rows as [1, D, M, M]."""
    return table[1:].reshape(1, M, M, DIM).permute(0, 3, 1, 2)


def with_cls(table, resized):
    """The CLS row followed by the resized grid, row-major: [1 + gh*gw, D]."""
    gh, gw = resized.shape[-2:]
    return torch.cat([table[:1], resized.permute(0, 2, 3, 1).reshape(gh * gw, DIM)], 0)


def dinov2(table, grid, antialias, offset):
    gh, gw = grid
    if offset:
        kwargs = {'scale_factor': ((gh + offset) / M, (gw + offset) / M)}
    else:
        kwargs = {'size': (gh, gw)}
    resized = F.interpolate(patch_grid(table), mode='bicubic', antialias=antialias, **kwargs)
    assert tuple(resized.shape[-2:]) == (gh, gw), resized.shape
    return with_cls(table, resized)


def clip(table, grid):
    resized = F.interpolate(patch_grid(table), size=tuple(grid), mode='bilinear', align_corners=False)
    return with_cls(table, resized)


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {'__metadata__': metadata}, [], 0
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
    g = torch.Generator().manual_seed(SEED)
    table32 = (0.5 * torch.randn(1 + M * M, DIM, generator=g)).float()
    table = table32.double()
    cases = []
    out = {}
    grids = [(3, 5), (6, 3), (2, 7)]
    for antialias in (True, False):
        for grid in grids:
            name = f"dinov2.{'antialias' if antialias else 'bicubic'}.{grid[0]}x{grid[1]}"
            out[name] = dinov2(table, grid, antialias, 0.0).float().numpy()
            cases.append({'name': name, 'kind': 'dinov2', 'grid': list(grid), 'antialias': antialias, 'offset': 0.0})
    for grid in [(3, 5), (6, 3)]:
        name = f'dinov2.offset.{grid[0]}x{grid[1]}'
        out[name] = dinov2(table, grid, False, 0.1).float().numpy()
        cases.append({'name': name, 'kind': 'dinov2', 'grid': list(grid), 'antialias': False, 'offset': 0.1})
    for grid in grids:
        name = f'clip.{grid[0]}x{grid[1]}'
        out[name] = clip(table, grid).float().numpy()
        cases.append({'name': name, 'kind': 'clip', 'grid': list(grid)})
    meta = {'torch': torch.__version__, 'seed': str(SEED)}
    write_safetensors(f'{OUT}/inputs.safetensors', {'table': table32.numpy()}, meta)
    write_safetensors(f'{OUT}/outputs.safetensors', out, meta)
    with open(f'{OUT}/fixture.json', 'w') as f:
        f.write('{"kind": "pos-embed-interpolation"}')
    with open(f'{OUT}/config.json', 'w') as f:
        json.dump({'grid': M, 'dim': DIM, 'seed': SEED, 'table': 'inputs.safetensors: table [1 + M*M, D], CLS row first', 'outputs': 'outputs.safetensors: one [1 + gh*gw, D] table per case, CLS row first, patch rows row-major', 'cases': cases}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
