"""PyTorch side of `npm run bench -- encoders`: a pre-norm ViT of the given shapes (patch conv, prefix
tokens, `depth` blocks of LayerNorm, fused qkv, softmax attention, projection, LayerNorm, GELU MLP), random
weights, eval and no_grad, timed per thread count. Prints one JSON line per thread count:
{"threads": t, "first_ms": ..., "ms": median steady ms, "peak_rss_bytes": ...}.

usage: python3 encoders-reference.py '{"width":1024,"depth":24,"heads":16,"mlp":4096,"patch":16,
        "prefix":5,"size":224,"threads":[1,2],"repeats":3}'
Made for Debian's python3-torch (1.13); needs nothing else.
"""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, width, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, mlp)
        self.fc2 = nn.Linear(mlp, width)

    def forward(self, x):
        b, t, c = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1), dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Vit(nn.Module):
    def __init__(self, width, depth, heads, mlp, patch, prefix):
        super().__init__()
        self.patch = nn.Conv2d(3, width, patch, patch)
        self.prefix = nn.Parameter(torch.randn(1, prefix, width) * 0.02)
        self.blocks = nn.ModuleList([Block(width, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)

    def forward(self, pixels, taps):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.prefix.expand(x.shape[0], -1, -1), x], 1)
        outs = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in taps:
                outs.append(self.norm(x))
        return outs


def main():
    spec = json.loads(sys.argv[1])
    torch.manual_seed(0)
    model = Vit(spec["width"], spec["depth"], spec["heads"], spec["mlp"], spec["patch"], spec["prefix"]).eval()
    depth = spec["depth"]
    taps = {round((i + 1) * depth / 4) - 1 for i in range(min(4, depth))}
    pixels = torch.randn(1, 3, spec["size"], spec["size"])
    with torch.no_grad():
        for threads in spec["threads"]:
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            model(pixels, taps)
            first = (time.perf_counter() - t0) * 1000
            times = []
            for _ in range(spec["repeats"]):
                t0 = time.perf_counter()
                model(pixels, taps)
                times.append((time.perf_counter() - t0) * 1000)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            print(json.dumps({"threads": threads, "first_ms": first, "ms": statistics.median(times), "peak_rss_bytes": rss, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
