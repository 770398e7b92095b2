"""Writes fixtures/torch/anomalyclip-tiny-prompt-learner.pth: the anomalyclip-tiny fixture's prompt learner saved the way
AnomalyCLIP's train.py saves its checkpoints (zqhang/AnomalyCLIP 45ed4dd, train.py line 114):

    torch.save({"prompt_learner": prompt_learner.state_dict()}, ckp_path)

`state_dict()` comes from a module with the parameter and buffer layout of prompt_ensemble.py's
AnomalyCLIP_PromptLearner (ctx_pos / ctx_neg parameters, the compound_prompts_text ParameterList, the
compound_prompt_projections ModuleList of Linear layers, the token_prefix/suffix buffers and the int64
tokenized_prompts buffers), filled with the fixture's values, so the file has the published checkpoints' structure
(an OrderedDict with its `_metadata`, the zip container of torch >= 1.6). `hgm import anomalyclip` is tested on it.

Run with Debian bookworm's python3 (torch 1.13):
    /usr/bin/python3 tools/fixtures-gen/anomalyclip_prompt_learner_pth.py
"""
import json
import os
import struct

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures")
SOURCE = os.path.join(ROOT, "clip", "anomalyclip-tiny", "weights.safetensors")
OUT = os.path.join(ROOT, "torch", "anomalyclip-tiny-prompt-learner.pth")


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8 : 8 + n])
    data = b[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        s, t = e["data_offsets"]
        dtype = {"F32": np.float32, "I32": np.int32, "I64": np.int64}[e["dtype"]]
        out[name] = np.frombuffer(data[s:t], dtype=dtype).reshape(e["shape"]).copy()
    return out


class PromptLearnerLayout(nn.Module):
    """The parameters and buffers of AnomalyCLIP_PromptLearner, by name, shape and dtype."""

    def __init__(self, w):
        super().__init__()
        depth = len([k for k in w if k.startswith("compound_prompts_text.")])
        self.ctx_pos = nn.Parameter(torch.from_numpy(w["ctx_pos"]))
        self.ctx_neg = nn.Parameter(torch.from_numpy(w["ctx_neg"]))
        self.compound_prompts_text = nn.ParameterList([nn.Parameter(torch.from_numpy(w["compound_prompts_text.%d" % i])) for i in range(depth)])
        projections = []
        for i in range(depth):
            weight = w["compound_prompt_projections.%d.weight" % i]
            layer = nn.Linear(weight.shape[1], weight.shape[0])
            layer.weight = nn.Parameter(torch.from_numpy(weight))
            layer.bias = nn.Parameter(torch.from_numpy(w["compound_prompt_projections.%d.bias" % i]))
            projections.append(layer)
        self.compound_prompt_projections = nn.ModuleList(projections)
        for name in ("token_prefix_pos", "token_suffix_pos", "token_prefix_neg", "token_suffix_neg"):
            self.register_buffer(name, torch.from_numpy(w[name]))
        # clip.tokenize returns int64 (LongTensor): the published checkpoints hold int64 buffers
        self.register_buffer("tokenized_prompts_pos", torch.from_numpy(w["tokenized_prompts_pos"].astype(np.int64)))
        self.register_buffer("tokenized_prompts_neg", torch.from_numpy(w["tokenized_prompts_neg"].astype(np.int64)))


def main():
    weights = {k[len("prompt_learner.") :]: v for k, v in read_safetensors(SOURCE).items() if k.startswith("prompt_learner.")}
    prompt_learner = PromptLearnerLayout(weights)
    tmp = OUT + ".tmp"
    torch.save({"prompt_learner": prompt_learner.state_dict()}, tmp)
    os.replace(tmp, OUT)
    print(OUT, torch.__version__, sorted(prompt_learner.state_dict().keys()))


if __name__ == "__main__":
    main()
