#!/usr/bin/env python3
"""The residual-network families of issue 16 as ONNX files, exported by real PyTorch at test time.

usage: make_onnx_graph_cases.py OUT_DIR

For each family it writes <name>.opset13.onnx and <name>.opset17.onnx (torch.onnx.export, float32,
dynamic batch) and records in cases.json: the input, model.double()(x) as PyTorch computes it in
float64, every Linear's weight (by state_dict key) and the family's expected op list. The ONNX
import's structure tests and its float64 interpreter (test/helpers/manifest-v2-forward.ts) check
against these.
"""
import json
import os
import sys

import torch
from torch import nn


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from families import PreLNResNet, RtdlResNet, Squash, WideDeepResNet, randomize_norms  # noqa: E402
from onnx_export import export_onnx_file  # noqa: E402


def pre_ln(act, n_blocks=2, **kwargs):
    # One block's LayerNorm with eps 1e-6: each node's eps must come through on its own.
    return lambda: PreLNResNet(13, 16, 40, 5, n_blocks, act, block_eps=(1e-5, 1e-6), **kwargs)


def linear():
    return ["linear", {}]


def bn(eps=1e-5):
    return ["batchnorm", {"eps": eps}]


def ln(eps=1e-5):
    return ["layernorm", {"eps": eps}]


def act(fn, **attrs):
    return ["activation", {"fn": fn, **attrs}]


ADD = ["add", {}]
LEAKY = act("leaky_relu", negative_slope=0.01)


def prenorm_ops(fn, n_blocks):
    blocks = [[ln(1e-6 if i == 1 else 1e-5), linear(), fn, linear(), ADD] for i in range(n_blocks)]
    return [linear()] + sum(blocks, []) + [ln(), linear()]


FAMILIES = {
    # name: (model factory, input width, the expected op-graph nodes [op, attrs], identity-like ops left out)
    "rtdl": (lambda: RtdlResNet(11, 16, 24, 3, 2, head_eps=1e-3), 11,
             [linear()] + [bn(), linear(), act("relu"), linear(), ADD] * 2 + [bn(1e-3), act("relu"), linear()]),
    "widedeep": (lambda: WideDeepResNet(9, [12, 12, 20], 4, first_eps=1e-3), 9,
                 [linear(), bn(), LEAKY]
                 + [linear(), bn(1e-3), LEAKY, linear(), bn(), ADD, LEAKY]
                 + [linear(), bn(), LEAKY, linear(), bn(), linear(), bn(), ADD, LEAKY]  # the resize shortcut runs last
                 + [linear()]),
    "gelu_ln": (pre_ln(nn.GELU), 13, prenorm_ops(act("gelu", approximate="none"), 2)),
    "gelu_tanh": (pre_ln(lambda: nn.GELU(approximate="tanh")), 13, prenorm_ops(act("gelu", approximate="tanh"), 2)),
    "silu_ln": (pre_ln(nn.SiLU), 13, prenorm_ops(act("silu"), 2)),
    "squash": (Squash, 7, [linear(), act("tanh"), linear(), act("relu"), linear(), ADD, act("relu"), linear(), act("sigmoid")]),
    # torch 1.13 writes an invalid LayerNormalization (no scale) at opset 17 for this one: opset 13 only.
    "silu_plain_ln": (pre_ln(nn.SiLU, n_blocks=1, affine_final=False), 13, prenorm_ops(act("silu"), 1)),
}

OPSETS = (13, 17)
ONLY_OPSET_13 = {"silu_plain_ln"}


def main(out):
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(4321)
    cases = []
    for i, (name, (make, width, expected)) in enumerate(FAMILIES.items()):
        torch.manual_seed(100 + i)
        model = make()
        randomize_norms(model, gen)
        model.eval()
        x = torch.randn(5, width, generator=gen) * 2
        opsets = (13,) if name in ONLY_OPSET_13 else OPSETS
        for opset in opsets:
            export_onnx_file(model, x, os.path.join(out, f"{name}.opset{opset}.onnx"), opset)
        with torch.no_grad():
            y = model.double()(x.double())
        linears = {k: v.tolist() for k, v in model.state_dict().items() if k.endswith(".weight") and v.dim() == 2}
        cases.append({"name": name, "opsets": opsets, "input_size": width, "rows": x.shape[0], "ops": expected,
                      "x": x.double().flatten().tolist(), "y": y.flatten().tolist(), "output_size": y.shape[1],
                      "linear_weights": linears})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f)
    # An op resgpu does not run, in the middle of a graph it otherwise runs.
    softmax = nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1), nn.Linear(4, 2)).eval()
    torch.onnx.export(softmax, torch.randn(2, 4), os.path.join(out, "softmax.opset13.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])


if __name__ == "__main__":
    main(sys.argv[1])
