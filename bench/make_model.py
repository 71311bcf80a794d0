#!/usr/bin/env python3
"""Writes a benchmark model with real PyTorch, in every form the contenders load:
  OUT.pt             torch.save(state_dict): what resgpu and its CPU reference load
  OUT.safetensors    tools/export_resgpu.py's native file
  OUT.onnx           torch.onnx.export (opset 17, dynamic batch): onnxruntime-web
  OUT.folded.json/.bin  the same layers with BatchNorm folded (float64 math, stored f32):
                     the TensorFlow.js network, written with its fused matMul + bias + ReLU
usage: make_model.py PRESET OUT   (PRESET: tabular, small, medium, large, or breast_cancer, the bundled example)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from export_resgpu import export_model  # noqa: E402
from residual_mlp import ResidualMLP, randomize_batchnorm  # noqa: E402

# in, hidden, blocks, out (the presets of the benchmark issue)
PRESETS = {"tabular": (30, 64, 4, 2), "small": (64, 256, 8, 10), "medium": (50, 384, 6, 7), "large": (128, 1024, 8, 16)}


def fold(linear, bn):
    w, b = linear.weight.double(), linear.bias.double()
    if isinstance(bn, torch.nn.BatchNorm1d):
        s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        w, b = w * s[:, None], (b - bn.running_mean.double()) * s + bn.bias.double()
    return w.float(), b.float()


def write_folded(model, out):
    layers, blobs, offset = [], [], 0

    def add(t):
        nonlocal offset
        raw = t.contiguous().numpy().tobytes()
        blobs.append(raw)
        entry = {"offset": offset, "shape": list(t.shape)}
        offset += len(raw)
        return entry

    for block in model.blocks:
        w1, b1 = fold(block.linear1, block.bn1)
        w2, b2 = fold(block.linear2, block.bn2)
        layer = {"type": "residual_block", "w1": add(w1), "b1": add(b1), "w2": add(w2), "b2": add(b2)}
        if isinstance(block.shortcut, torch.nn.Sequential):
            ws, bs = fold(block.shortcut[0], block.shortcut[1] if len(block.shortcut) > 1 else None)
            layer.update(ws=add(ws), bs=add(bs))
        layers.append(layer)
    layers.append({"type": "linear", "w": add(model.head.weight.detach().float()), "b": add(model.head.bias.detach().float())})
    with open(f"{out}.folded.bin", "wb") as f:
        f.write(b"".join(blobs))
    with open(f"{out}.folded.json", "w") as f:
        json.dump({"layers": layers}, f)


if __name__ == "__main__":
    preset, out = sys.argv[1], sys.argv[2]
    if preset == "breast_cancer":  # the bundled example, as tools/train_example.py trained it
        model = ResidualMLP(30, [(64, 64)] * 3, 2)
        model.load_state_dict(torch.load(os.path.join(os.path.dirname(__file__), "..", "examples", "breast_cancer.pt")))
        inp = 30
    else:
        inp, hidden, blocks, classes = PRESETS[preset]
        torch.manual_seed(0)
        model = ResidualMLP(inp, [(hidden, hidden)] * blocks, classes)
        randomize_batchnorm(model, torch.Generator().manual_seed(0))
    model.eval()
    torch.save(model.state_dict(), f"{out}.pt")
    export_model(model, f"{out}.safetensors")
    x = torch.randn(2, inp)
    torch.onnx.export(model, x, f"{out}.onnx", opset_version=17, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    with torch.no_grad():
        write_folded(model, out)
