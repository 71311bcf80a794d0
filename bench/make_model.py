#!/usr/bin/env python3
"""Writes a benchmark model with real PyTorch: OUT.pt (torch.save(state_dict)) and
OUT.safetensors (tools/export_resgpu.py). usage: make_model.py PRESET OUT"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from export_resgpu import export_model  # noqa: E402
from residual_mlp import ResidualMLP, randomize_batchnorm  # noqa: E402

# in, hidden, blocks, out (the presets of the benchmark issue)
PRESETS = {"tabular": (30, 64, 4, 2), "small": (64, 256, 8, 10), "large": (128, 1024, 8, 16)}

if __name__ == "__main__":
    preset, out = sys.argv[1], sys.argv[2]
    inp, hidden, blocks, classes = PRESETS[preset]
    torch.manual_seed(0)
    model = ResidualMLP(inp, [(hidden, hidden)] * blocks, classes)
    randomize_batchnorm(model, torch.Generator().manual_seed(0))
    model.eval()
    torch.save(model.state_dict(), f"{out}.pt")
    export_model(model, f"{out}.safetensors")
