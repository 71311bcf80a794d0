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


def _batchnorm(x, p, eps):
    """Per channel: the channel is dimension 1 of [N, C] and of images [N, C, H, W]."""
    per = lambda t: t.reshape(-1, *[1] * (x.dim() - 2))  # noqa: E731
    return _norm(x, {k: per(v) for k, v in p.items()}, eps, per(p["running_mean"]), per(p["running_var"]))


def _pair(v, default):
    v = default if v is None else v
    return [v, v] if isinstance(v, (int, float)) else list(v)


def _windows(x, a, fill, ceil=False, beyond=None):
    """The windows of a 2-D window op over images x [N, C, H, W]: [N, C, oh, ow, kh, kw], for the output
    size of PyTorch's formula; the padding holds `fill` (0 for convolutions and sums, -inf for max) and
    what lies past it, where a ceil_mode window runs out of the padded input, holds `beyond` (default: fill)."""
    kh, kw = a["kernel"]
    (sh, sw), (dh, dw) = _pair(a.get("stride"), a["kernel"]), _pair(a.get("dilation"), 1)
    pad = _pair(a.get("padding"), 0)
    top, left, bottom, right = pad if len(pad) == 4 else (pad[0], pad[1], pad[0], pad[1])
    n, c, h, w = x.shape

    def out(size, before, after, k, s, d):
        o = (size + before + after - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
        return o - 1 if ceil and (o - 1) * s >= size + before else o

    oh, ow = out(h, top, bottom, kh, sh, dh), out(w, left, right, kw, sw, dw)
    ph, pw = top + h + bottom, left + w + right
    fh, fw = max(ph, (oh - 1) * sh + dh * (kh - 1) + 1), max(pw, (ow - 1) * sw + dw * (kw - 1) + 1)
    padded = torch.full((n, c, fh, fw), fill if beyond is None else beyond, dtype=x.dtype)
    padded[:, :, :ph, :pw] = fill
    padded[:, :, top:top + h, left:left + w] = x
    win = padded.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    return win[:, :, :oh, :ow]


def _conv2d(x, p, a):
    win = _windows(x, {**a, "kernel": list(p["weight"].shape[2:])}, 0.0)
    y = torch.einsum("ncijhw,ochw->noij", win, p["weight"])
    return y + p["bias"].reshape(-1, 1, 1) if "bias" in p else y


def _avgpool2d(x, a):
    """The window's sum over its pixel count: the input pixels in it, or (count_include_pad, the default) the
    pixels of the padded input in it (never what a ceil_mode window holds past the padding)."""
    ceil = a.get("ceil_mode", False)
    ones = torch.ones_like(x[:1, :1])
    counts = _windows(ones, a, 1.0 if a.get("count_include_pad", True) else 0.0, ceil, beyond=0.0).sum((-2, -1))
    return _windows(x, a, 0.0, ceil).sum((-2, -1)) / counts


def _maxpool2d(x, a):
    win = _windows(x, a, -math.inf, a.get("ceil_mode", False)).flatten(-2)
    # The largest value, or NaN where the window holds one (as PyTorch's max pooling).
    return torch.where(win.isnan().any(-1), torch.full_like(win[..., 0], math.nan), win.max(-1).values)


OPS = {
    "linear": lambda v, p, a: v[0] @ p["weight"].T + p["bias"] if "bias" in p else v[0] @ p["weight"].T,
    "batchnorm": lambda v, p, a: _batchnorm(v[0], p, a.get("eps", 1e-5)),
    "layernorm": lambda v, p, a: _norm(v[0], p, a.get("eps", 1e-5), v[0].mean(-1, keepdim=True),
                                       v[0].var(-1, unbiased=False, keepdim=True)),
    "activation": lambda v, p, a: ACTIVATIONS[a["fn"]](v[0], a),
    "add": lambda v, p, a: v[0] + v[1],
    "dropout": lambda v, p, a: v[0], "identity": lambda v, p, a: v[0],
    "flatten": lambda v, p, a: v[0].reshape(v[0].shape[0], -1),
    "conv2d": lambda v, p, a: _conv2d(v[0], p, a),
    "maxpool2d": lambda v, p, a: _maxpool2d(v[0], a),
    "avgpool2d": lambda v, p, a: _avgpool2d(v[0], a),
    "global_avgpool": lambda v, p, a: v[0].sum((2, 3), keepdim=True) / (v[0].shape[2] * v[0].shape[3]),
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
