#!/usr/bin/env python3
"""Makes the residual network families (families.py) for the TypeScript tests, with real PyTorch.

usage: make_family_cases.py OUT_DIR

For each family it writes <family>.pt (torch.save(state_dict)), <family>.safetensors (through
tools/export_resgpu.py: manifest v2), <family>.opset13.onnx and <family>.opset17.onnx
(torch.onnx.export, batch dimension dynamic), and records in cases.json:
- its input and output widths, block count, files, and the dispatch count the fused graph
  should take (`dispatches`, with the rule in words);
- `inputs`: 5 finite rows; `special`: rows holding NaN, +Inf and -Inf; for each, PyTorch's
  outputs in float32 (the model as trained) and float64 (model.double()), row-major, with
  non-finite numbers as the strings "nan", "inf", "-inf" (JSON has none);
- `onnx_ops`: the op types each .onnx file holds, in node order.
At the top level: `onnx_patterns`, what torch.onnx.export writes for LayerNorm, GELU (erf and
tanh), SiLU, LeakyReLU, Sigmoid and Tanh alone at each opset (nodes with their inputs and
attributes, Constant values, initializers): the patterns an ONNX importer must recognize; and
`nonfinite`, PyTorch's value of each activation (and LayerNorm's row) at NaN and +-Inf, which
resgpu's kernels must reproduce. Fixed seeds: the same files on every run.
"""
import copy
import json
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from families import BLOCKS, D_IN, FAMILIES, make_family  # noqa: E402
from onnx_export import export_onnx_file, export_opsets  # noqa: E402
from onnx_summary import summarize  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from export_resgpu import export_model  # noqa: E402

OPSETS = (13, 17)
NAN, INF = float("nan"), float("inf")


def encode(t):
    """A tensor as a flat row-major list, non-finite values as strings."""
    return [v if v == v and abs(v) != INF else str(v) for v in t.flatten().tolist()]


def special_rows(width):
    """One row per kind of missing or broken value, and one with both infinities."""
    x = torch.linspace(-1.5, 1.5, width).repeat(4, 1)
    x[0, 2] = NAN
    x[1, 0] = INF
    x[2, width - 1] = -INF
    x[3, 1], x[3, 4] = INF, -INF
    return x


def outputs(model, x):
    """PyTorch's outputs in float32 and in float64, the model's own forward() both times."""
    with torch.no_grad():
        return {"float32": encode(model(x)), "float64": encode(copy.deepcopy(model).double()(x.double()))}


def family_case(out, index, name):
    model = make_family(name, seed=index)
    _, dispatches, rule = FAMILIES[name]
    x = torch.randn(5, D_IN, generator=torch.Generator().manual_seed(100 + index))
    special = special_rows(D_IN)
    torch.save(model.state_dict(), os.path.join(out, f"{name}.pt"))
    export_model(model, os.path.join(out, f"{name}.safetensors"))
    onnx = export_opsets(model, x, os.path.join(out, name), OPSETS)
    with torch.no_grad():
        width = model(x).shape[1]
    return {
        "name": name, "input_size": D_IN, "output_size": width, "blocks": BLOCKS,
        "dispatches": dispatches, "dispatches_rule": rule,
        "files": {"pt": f"{name}.pt", "safetensors": f"{name}.safetensors",
                  "onnx": {opset: os.path.basename(p) for opset, p in onnx.items()}},
        "inputs": {"rows": x.shape[0], "x": encode(x), **outputs(model, x)},
        "special": {"rows": special.shape[0], "x": encode(special), **outputs(model, special)},
        "onnx_ops": {opset: summarize(p)["ops"] for opset, p in onnx.items()},
    }


PATTERN_MODULES = {
    "layernorm": lambda: nn.LayerNorm(5), "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "silu": nn.SiLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
}


def onnx_patterns(out):
    """Each op alone, exported at each opset: what the importer must recognize."""
    patterns = {}
    for name, make in PATTERN_MODULES.items():
        for opset in OPSETS:
            path = os.path.join(out, "patterns", f"{name}.opset{opset}.onnx")
            export_onnx_file(make().eval(), torch.randn(2, 5), path, opset)
            summary = summarize(path)
            patterns.setdefault(name, {})[str(opset)] = {k: summary[k] for k in ("ops", "nodes", "initializers")}
    return patterns


def nonfinite():
    """torch's value of each activation at NaN, +Inf, -Inf (and at -100, where exp overflows in
    some formulas), in float32 and float64; and LayerNorm on rows holding one such value."""
    fns = {name: make() for name, make in PATTERN_MODULES.items() if name != "layernorm"}
    fns["relu"] = nn.ReLU()
    x = torch.tensor([NAN, INF, -INF, -100.0, 100.0])
    table = {"at": encode(x)}
    with torch.no_grad():
        for name, fn in fns.items():
            table[name] = {"float32": encode(fn(x)), "float64": encode(fn(x.double()))}
        rows = torch.tensor([[1.0, NAN, 3.0], [1.0, INF, 3.0], [1.0, -INF, 3.0]])
        table["layernorm_rows"] = {"x": encode(rows), "float32": encode(nn.LayerNorm(3)(rows))}
    return table


def main(out):
    os.makedirs(os.path.join(out, "patterns"), exist_ok=True)
    cases = {"families": [family_case(out, i, name) for i, name in enumerate(FAMILIES)],
             "onnx_patterns": onnx_patterns(out), "nonfinite": nonfinite()}
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
