"""The graph manifest, version 2 (docs/MODEL-FORMAT.md), in Python: what it computes.

run_manifest(manifest, tensors, x) runs a manifest node by node in whatever dtype `x` has
(float64 for checking), from the format's documented eval-mode semantics written out as
formulas, not by calling the torch.nn functions a model calls: it states resgpu's contract, so
comparing it with a model's own forward() checks an export end to end. It also checks the
format's structural rules (values written once and before they are read, each tensor used
once, every value read). tools/export_resgpu.py runs it before writing a file.
"""
import math

import torch


class ManifestError(ValueError):
    pass


def _relu_nan_keeping(x):
    return torch.where(x < 0, torch.zeros_like(x), x)  # NaN < 0 is false: NaN passes, as in torch.relu


ACTIVATIONS = {
    "relu": lambda x, a: _relu_nan_keeping(x),
    "leaky_relu": lambda x, a: torch.where(x < 0, x * a.get("negative_slope", 0.01), x),
    "gelu": lambda x, a: (0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
                          if a.get("approximate", "none") == "tanh" else 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))),
    "silu": lambda x, a: x / (1 + torch.exp(-x)),
    "sigmoid": lambda x, a: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x, a: torch.tanh(x),
}


def _norm(x, p, eps, mean, var):
    y = (x - mean) / torch.sqrt(var + eps)
    return y * p["weight"] + p["bias"] if "weight" in p else y


OPS = {
    "linear": lambda v, p, a: v[0] @ p["weight"].T + p["bias"] if "bias" in p else v[0] @ p["weight"].T,
    "batchnorm": lambda v, p, a: _norm(v[0], p, a.get("eps", 1e-5), p["running_mean"], p["running_var"]),
    "layernorm": lambda v, p, a: _norm(v[0], p, a.get("eps", 1e-5), v[0].mean(-1, keepdim=True),
                                       v[0].var(-1, unbiased=False, keepdim=True)),
    "activation": lambda v, p, a: ACTIVATIONS[a["fn"]](v[0], a),
    "add": lambda v, p, a: v[0] + v[1],
    "dropout": lambda v, p, a: v[0], "identity": lambda v, p, a: v[0],
    "flatten": lambda v, p, a: v[0].reshape(v[0].shape[0], -1),
}


def run_manifest(manifest, tensors, x):
    """What a manifest v2 computes on the batch `x`, node by node, from the format's documented
    eval-mode semantics (written out, not the torch.nn calls the model makes): resgpu's contract.
    Checks the format's structural rules on the way."""
    values = {manifest["inputs"][0]["name"]: x}
    used, read = set(), set()
    for node in manifest["nodes"]:
        where = node.get("name", node["output"])
        missing = [i for i in node["inputs"] if i not in values]
        if missing:
            raise ManifestError(f"node {where} reads {missing} before they are written")
        if node["output"] in values:
            raise ManifestError(f"node {where} writes {node['output']}, which is already written")
        if node["op"] not in OPS:
            raise ManifestError(f"node {where} has an unknown op {node['op']!r}")
        params = node.get("params", {})
        if used & set(params.values()):
            raise ManifestError(f"node {where} uses {sorted(used & set(params.values()))}, already used")
        used |= set(params.values())
        read |= set(node["inputs"])
        p = {role: tensors[key] for role, key in params.items()}
        values[node["output"]] = OPS[node["op"]]([values[i] for i in node["inputs"]], p, node.get("attrs", {}))
    unread = [n["output"] for n in manifest["nodes"] if n["output"] not in read | set(manifest["outputs"])]
    if unread:
        raise ManifestError(f"values {unread} are never read")
    return values[manifest["outputs"][0]]
