#!/usr/bin/env python3
"""Export a PyTorch residual MLP to resgpu's native format.

Writes a .safetensors file whose __metadata__ carries the graph manifest under "resgpu.graph",
so `loadModel(url)` needs nothing else. Needs PyTorch only.

    from export_resgpu import export_model
    export_model(model, "model.safetensors")                # float32
    export_model(model, "model.safetensors", dtype="float16")

    python3 tools/export_resgpu.py whole_model.pth model.safetensors   # a torch.save(model) file
    export_model(model, "model.safetensors", features=["age", "bmi"], labels=["no", "yes"])
    python3 tools/export_resgpu.py model.pth out.safetensors --features @names.txt --labels no,yes

Feature names (one per input column) and class labels (one per output) are optional; they travel
in the manifest ("features", "labels"), so a server can accept rows keyed by name and name the
predicted class.

The graph is read from the module tree in registration order: ResidualBlock-like modules
(children linear1, linear2, optional bn1/bn2, optional shortcut as a Linear or
Sequential(Linear, BatchNorm1d)), Linear layers with an optional BatchNorm1d and ReLU after
them, and Dropout / Identity / Flatten, which eval-mode inference drops. Anything else is
refused by name. Because registration order need not be forward order, the export then runs
the model and the manifest side by side in float64 and refuses to write a file that differs.
"""
import argparse
import copy
import json
import struct
import sys
import warnings

import torch
from torch import nn

DTYPES = {"float32": (torch.float32, "F32"), "float16": (torch.float16, "F16"),
          "bfloat16": (torch.bfloat16, "BF16"), "float64": (torch.float64, "F64")}
SKIPPED = (nn.Dropout, nn.Identity, nn.Flatten)


class ExportError(ValueError):
    pass


def _is_block(m):
    return isinstance(getattr(m, "linear1", None), nn.Linear) and isinstance(getattr(m, "linear2", None), nn.Linear)


def _bn(m, path):
    if m is None or isinstance(m, nn.Identity):
        return None
    if not isinstance(m, nn.BatchNorm1d):
        raise ExportError(f"{path} is a {type(m).__name__}; a residual block's norm must be BatchNorm1d or Identity")
    if not m.track_running_stats:
        raise ExportError(f"{path} has no running statistics (track_running_stats=False); eval-mode folding needs them")
    return path


def _block(m, path):
    entry = {"type": "residual_block", "linear1": f"{path}.linear1", "bn1": _bn(getattr(m, "bn1", None), f"{path}.bn1"),
             "linear2": f"{path}.linear2", "bn2": _bn(getattr(m, "bn2", None), f"{path}.bn2"),
             "shortcut": None, "shortcut_bn": None}
    sc = getattr(m, "shortcut", None)
    if isinstance(sc, nn.Linear):
        entry["shortcut"] = f"{path}.shortcut"
    elif isinstance(sc, nn.Sequential) and len(sc) in (1, 2) and isinstance(sc[0], nn.Linear):
        entry["shortcut"] = f"{path}.shortcut.0"
        if len(sc) == 2:
            entry["shortcut_bn"] = _bn(sc[1], f"{path}.shortcut.1")
    elif not (sc is None or isinstance(sc, nn.Identity)):
        raise ExportError(f"{path}.shortcut is a {type(sc).__name__}; resgpu supports Identity, Linear, or Sequential(Linear, BatchNorm1d)")
    known = {"linear1", "bn1", "linear2", "bn2", "shortcut"}
    for name, child in m.named_children():
        if name not in known and not isinstance(child, (nn.ReLU,) + SKIPPED):
            raise ExportError(f"{path}.{name} ({type(child).__name__}) is not part of a ResidualBlock resgpu can run")
    return entry


def _walk(module, prefix, layers):
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        last = layers[-1] if layers else None
        if _is_block(child):
            layers.append(_block(child, path))
        elif isinstance(child, nn.Linear):
            layers.append({"type": "linear", "linear": path, "bn": None, "activation": "none"})
        elif isinstance(child, nn.BatchNorm1d):
            if not (last and last["type"] == "linear" and last["bn"] is None and last["activation"] == "none"):
                raise ExportError(f"{path}: a BatchNorm1d must directly follow a Linear layer")
            last["bn"] = _bn(child, path)
        elif isinstance(child, nn.ReLU):
            if last and last["type"] == "linear" and last["activation"] == "none":
                last["activation"] = "relu"
            elif not (last and last["type"] == "residual_block"):  # a block already ends in ReLU
                raise ExportError(f"{path}: a ReLU must follow a Linear layer or a residual block")
        elif isinstance(child, SKIPPED):
            continue
        elif list(child.children()) and not list(child.parameters(recurse=False)):
            _walk(child, f"{path}.", layers)
        else:
            raise ExportError(f"{path} ({type(child).__name__}) cannot be expressed in a resgpu graph")


def build_manifest(model, in_features):
    layers = []
    if _is_block(model):
        layers.append(_block(model, ""))
        # a bare block at the root has no prefix
        for k in ("linear1", "bn1", "linear2", "bn2", "shortcut", "shortcut_bn"):
            if layers[0][k]:
                layers[0][k] = layers[0][k].lstrip(".")
    else:
        _walk(model, "", layers)
    if not layers:
        raise ExportError("the model has no Linear layers or residual blocks")
    eps = {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm1d)}
    if len(eps) > 1:
        raise ExportError(f"BatchNorms with different eps {sorted(eps)}; resgpu's manifest has one batchnorm_eps")
    return {"format": "resgpu-graph", "version": 1, "input": in_features, "layers": layers,
            "batchnorm_eps": eps.pop() if eps else 1e-5}


def manifest_forward(manifest, state, x):
    """The manifest's meaning, in plain torch ops: what resgpu will compute."""
    eps = manifest["batchnorm_eps"]

    def linear(p, h):
        y = h @ state[f"{p}.weight"].T
        return y + state[f"{p}.bias"] if f"{p}.bias" in state else y

    def bn(p, h):
        if not p:
            return h
        h = (h - state[f"{p}.running_mean"]) / torch.sqrt(state[f"{p}.running_var"] + eps)
        if f"{p}.weight" in state:
            h = h * state[f"{p}.weight"] + state[f"{p}.bias"]
        return h

    for layer in manifest["layers"]:
        if layer["type"] == "linear":
            y = bn(layer["bn"], linear(layer["linear"], x))
            x = torch.relu(y) if layer["activation"] == "relu" else y
        else:
            h = torch.relu(bn(layer["bn1"], linear(layer["linear1"], x)))
            y = bn(layer["bn2"], linear(layer["linear2"], h))
            s = bn(layer["shortcut_bn"], linear(layer["shortcut"], x)) if layer["shortcut"] else x
            x = torch.relu(y + s)
    return x


def _in_features(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            return m.in_features
    raise ExportError("the model has no Linear layer")


def _names(names, count, what):
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != count:
        raise ExportError(f"{len(names)} {what} given, but the model has {count}")
    if what == "feature names" and len(set(names)) != len(names):
        raise ExportError("feature names must be distinct")
    return names


def export_model(model, path, dtype="float32", features=None, labels=None):
    """Writes `model` to `path` as resgpu's native .safetensors; returns the manifest.

    features: one name per input column; labels: one class label per output (both optional).
    """
    if dtype not in DTYPES:
        raise ExportError(f"dtype must be one of {sorted(DTYPES)}")
    if model.training:
        warnings.warn("the model is in training mode; resgpu runs eval-mode inference (BatchNorm running "
                      "statistics, no Dropout). Call model.eval() before exporting to silence this.")
    manifest = build_manifest(model, _in_features(model))

    reference = copy.deepcopy(model).double().eval()
    state = {k: v for k, v in reference.state_dict().items() if v.is_floating_point()}
    x = torch.randn(16, manifest["input"], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = reference(x), manifest_forward(manifest, state, x)
    if expected.shape != got.shape or not torch.allclose(expected, got, rtol=1e-9, atol=1e-9):
        raise ExportError("the module tree, read in registration order, does not compute what the model's forward() "
                          "does; write the graph manifest by hand (see README) and pass it to loadModel")
    features = _names(features, manifest["input"], "feature names")
    labels = _names(labels, got.shape[1], "labels")
    if features is not None:
        manifest["features"] = features
    if labels is not None:
        manifest["labels"] = labels

    torch_dtype, st_dtype = DTYPES[dtype]
    header, blobs, offset = {}, [], 0
    for key, value in model.state_dict().items():
        if not value.is_floating_point():
            continue  # num_batches_tracked and other integer buffers play no part in inference
        t = value.detach().to("cpu", torch_dtype).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.element_size() == 2 else t.numpy().tobytes()
        header[key] = {"dtype": st_dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"resgpu.graph": json.dumps(manifest), "format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    return manifest


def _name_list(value):
    """'a,b,c', or '@file' with one name per line (names may then hold commas)."""
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return [v.strip() for v in value.split(",")]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="export_resgpu.py", description="Export a torch.save(model) file (the whole module, not a state_dict) "
                                             "to resgpu's .safetensors with its graph manifest.")
    parser.add_argument("model", help="a file written by torch.save(model)")
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--features", type=_name_list, help="input feature names: a,b,c or @file (one per line)")
    parser.add_argument("--labels", type=_name_list, help="output class labels: a,b or @file (one per line)")
    args = parser.parse_args(argv)
    try:
        model = torch.load(args.model)
    except OSError as e:
        sys.exit(f"export_resgpu.py: cannot read {args.model}: {e}")
    except (ModuleNotFoundError, AttributeError) as e:
        sys.exit(f"export_resgpu.py: {args.model} names a class Python cannot find ({e}); run from the directory "
                 "of the code that defines the model, or add it to PYTHONPATH")
    if not isinstance(model, nn.Module):
        sys.exit(f"export_resgpu.py: {args.model} holds a {type(model).__name__}, not a model. A state_dict needs "
                 "no export: resgpu loads .pt state_dicts directly (or save the module with torch.save(model))")
    try:
        export_model(model.eval(), args.out, args.dtype, args.features, args.labels)
    except ExportError as e:
        sys.exit(f"export_resgpu.py: {e}")


if __name__ == "__main__":
    main()
