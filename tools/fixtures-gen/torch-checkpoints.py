"""Writes the PyTorch-checkpoint fixtures of fixtures/torch/ (run from the repository root):

    /usr/bin/python3 tools/fixtures-gen/torch-checkpoints.py

Made with Debian python3-torch 1.13.1 (torch.__version__ 1.13.0a0), numpy 1.24.2, Python 3.11.
Every checkpoint is written by torch itself (torch.save, torch.jit.save) from safetensors twins, so the
TypeScript reader can be checked bit for bit against them. The hostile files carry payloads that would
create the file `hgm-pickle-payload-ran` in the working folder if they were ever executed.
"""
import collections
import json
import os
import pickle
import struct

import numpy as np
import torch

OUT = 'fixtures/torch'
DTYPES = {'F32': np.float32, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8, 'F64': np.float64}


def read_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = collections.OrderedDict()
    for name, e in header.items():
        if name == '__metadata__':
            continue
        s, t = e['data_offsets']
        if e['dtype'] == 'BF16':
            bits = np.frombuffer(data[s:t], dtype=np.int16).reshape(e['shape']).copy()
            out[name] = torch.from_numpy(bits).view(torch.bfloat16)
        else:
            out[name] = torch.from_numpy(np.frombuffer(data[s:t], dtype=DTYPES[e['dtype']]).reshape(e['shape']).copy())
    return out


def write_safetensors(path, tensors):
    names = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64'}
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous()
        b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[k] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


class ParameterTree(torch.nn.Module):
    """Holds a state dict as nested submodules, so that torch.jit.script saves it as a TorchScript archive."""

    def __init__(self, tensors):
        super().__init__()
        children = collections.OrderedDict()
        for k, t in tensors.items():
            head, _, rest = k.partition('.')
            if rest:
                children.setdefault(head, collections.OrderedDict())[rest] = t
            else:
                self.register_parameter(head, torch.nn.Parameter(t, requires_grad=False))
        for name, sub in children.items():
            self.add_module(name, ParameterTree(sub))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Payload:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def main():
    torch.manual_seed(0)
    # Official-reference twins (fixtures/vit) as Meta ships them: a plain state dict in a .pth.
    for name in ['dinov2-tiny', 'dinov3-tiny']:
        sd = read_safetensors(f'fixtures/vit/{name}/weights.safetensors')
        torch.save(sd, f'{OUT}/{name}.pth')
    # The legacy (pre-1.6, non-zip) container.
    torch.save(read_safetensors('fixtures/vit/dinov2-tiny/weights.safetensors'), f'{OUT}/dinov2-tiny-legacy.pth', _use_new_zipfile_serialization=False)
    # The tiny Dual-Anchor configuration's frozen weights: CLIP as TorchScript (as OpenAI ships it), DINOv3 as .pth.
    clip = read_safetensors(f'{OUT}/tiny-clip.safetensors')
    torch.jit.save(torch.jit.script(ParameterTree(clip)), f'{OUT}/tiny-clip.pt')
    torch.save(read_safetensors(f'{OUT}/tiny-dinov3.safetensors'), f'{OUT}/tiny-dinov3.pth')
    # Every dtype and layout: views with strides and offsets, shared storage, parameters, nested containers.
    base = torch.randn(6, 5)
    mixed = collections.OrderedDict()
    mixed['f32'] = base
    mixed['f32_transposed'] = base.t()
    mixed['f32_slice'] = base[2:5, 1:4]
    mixed['f32_step'] = base[::2, ::3]
    mixed['f16'] = (torch.randn(3, 4) * 100).half()
    mixed['bf16'] = torch.randn(4, 3).bfloat16()
    mixed['bf16_transposed'] = torch.randn(3, 2).bfloat16().t()
    mixed['i64'] = torch.tensor([[0, -5, 2147483647], [-2147483648, 7, 1]], dtype=torch.int64)
    mixed['scalar'] = torch.tensor(2.5)
    mixed['empty'] = torch.zeros(0, 3)
    mixed['param'] = torch.nn.Parameter(torch.randn(2, 3))
    write_safetensors(f'{OUT}/mixed.safetensors', mixed)
    nested = {'model': mixed, 'epoch': 3, 'note': 'not a tensor', 'lr': 0.1, 'steps': [1, 2], 'flag': True, 'none': None}
    torch.save(nested, f'{OUT}/mixed.pth')
    # Hostile pickles: a global outside the allowed set, inside a torch.save archive and as a bare pickle.
    torch.save({'w': torch.ones(2), 'x': Payload(os.system, 'touch hgm-pickle-payload-ran')}, f'{OUT}/hostile-os-system.pth')
    with open(f'{OUT}/hostile-eval.pkl', 'wb') as f:
        pickle.dump(Payload(eval, "open('hgm-pickle-payload-ran', 'w')"), f, protocol=2)
    print('torch', torch.__version__, 'numpy', np.__version__)


if __name__ == '__main__':
    main()
