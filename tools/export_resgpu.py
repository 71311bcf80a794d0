#!/usr/bin/env python3
"""Export a PyTorch residual network to resgpu's native format.

Writes a .safetensors file whose __metadata__ carries the graph manifest (version 2, the op
graph; docs/MODEL-FORMAT.md) under "resgpu.graph", so `loadModel(url)` needs nothing else.
Needs PyTorch only, and its two siblings: resgpu_trace.py (the forward graph, read with torch.fx)
and resgpu_manifest.py (the manifest's float64 interpreter).

    from export_resgpu import export_model
    export_model(model, "model.safetensors")                       # float32
    export_model(model, "model.safetensors", dtype="float16")
    export_model(model, "model.safetensors", features=["age", "bmi"], labels=["no", "yes"])
    export_model(model, "model.safetensors", input_shape=[30])     # the row shape, no batch

    python3 tools/export_resgpu.py whole_model.pth model.safetensors   # a torch.save(model) file
    python3 tools/export_resgpu.py model.pth out.safetensors --features @names.txt --labels no,yes
    python3 tools/export_resgpu.py model.pth out.safetensors --input-shape 30
    python3 tools/export_resgpu.py resnet.pth out.safetensors --input-shape 3,224,224
    python3 tools/export_resgpu.py resnet.pth out.safetensors --input-shape 3,224,224 --imagenet
    python3 tools/export_resgpu.py net.pth out.safetensors --input-shape 1,28,28 --image-mean 0.1307 --image-std 0.3081

The graph is the real forward graph, read by torch.fx symbolic tracing: torch.nn modules are
leaves, the model's own modules (and nn.Sequential) are traced through. Linear, BatchNorm1d,
LayerNorm (over the last dimension), ReLU, LeakyReLU, GELU (erf or tanh), SiLU, Sigmoid, Tanh,
the residual add, Dropout, Identity and Flatten, as modules or as their functions
(F.relu, torch.sigmoid, x.relu(), x + y, torch.flatten(x, 1), ...) become manifest nodes, and for
images Conv2d (groups=1), BatchNorm2d, MaxPool2d, AvgPool2d and AdaptiveAvgPool2d((1, 1)), so that
torchvision's ResNets export as they are; anything else is refused by name, saying where it sits.
Tensors are named by their state_dict keys, values by fx's node names. The input's row shape
defaults to [in_features of the first Linear]; an image model needs it (input_shape=[C, H, W]).

Before writing anything, the manifest is run by a float64 interpreter written from the format's
documented semantics (run_manifest) beside the model's own forward() in float64; a file whose
manifest computes something else is never written. Feature names (one per input column) and
class labels (one per output) are optional; they travel in the manifest. So does an image model's
preprocessing (`preprocess=`, `--image-mean`/`--image-std` or `--imagenet`): the per-channel mean
and std its images were normalized with, which resgpu-serve applies to uploaded images.
"""
import argparse
import copy
import json
import math
import struct
import sys
import warnings

import torch
from torch import nn

from resgpu_manifest import run_manifest
from resgpu_trace import FIX, ExportError, build_manifest

# Golden vectors recorded by default, and the most resgpu's self-test runs.
GOLDEN_ROWS = 8
GOLDEN_MAX_ROWS = 64

DTYPES = {"float32": (torch.float32, "F32"), "float16": (torch.float16, "F16"),
          "bfloat16": (torch.bfloat16, "BF16"), "float64": (torch.float64, "F64")}
# The self-check compares two float64 computations of the same math that differ only in the
# order of their roundings (a fused layer_norm kernel, addmm, erf against its formula): they agree
# to a few 1e-16 of the output's scale on the families resgpu runs (measured), ~1e-13 at worst for
# wide layers. 1e-9 of that scale leaves orders of margin for that, while anything structural (a
# missing bias or ReLU, a wrong eps or slope, a swapped operand) moves outputs by 1e-6 of their
# scale or far more.
SELF_CHECK_TOLERANCE = 1e-9

# torchvision's ImageNet statistics (transforms.Normalize in its reference training scripts).
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def _self_check(manifest, reference):
    """Refuses a manifest that does not compute what the model's forward() does, in float64."""
    tensors = {k: v for k, v in reference.state_dict().items() if v.is_floating_point()}
    shape = manifest["inputs"][0]["shape"]
    x = torch.randn(16, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = reference(x), run_manifest(manifest, tensors, x)
    if expected.shape != got.shape:
        raise ExportError(f"the traced graph returns {list(got.shape)} for a batch, forward() {list(expected.shape)}; {FIX}")
    scale = max(1.0, expected.abs().max().item())
    error = (expected - got).abs().max().item() if expected.numel() else 0.0
    if not error <= SELF_CHECK_TOLERANCE * scale:  # `not <=`: a NaN error fails too
        raise ExportError(f"the traced graph does not compute what the model's forward() does in float64 (they differ "
                          f"by {error:.3g} at an output scale of {scale:.3g}): something torch.fx does not see, such "
                          f"as an in-place op on a value read again, a forward hook or a parametrization; {FIX}")


def _names(names, count, what):
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != count:
        raise ExportError(f"{len(names)} {what} given, but the model has {count}")
    if what == "feature names" and len(set(names)) != len(names):
        raise ExportError("feature names must be distinct")
    return names


def _preprocess(given, shape):
    """The manifest's `preprocess` for an image input [C, H, W] (C = 1 or 3): `given` is "imagenet" or
    {"mean": [...], "std": [...]}, one value per channel (or one for every channel)."""
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ExportError(f"image preprocessing is for an image input [1 or 3, H, W]; this model's input is {shape} "
                          "(give input_shape / --input-shape C,H,W)")
    c = shape[0]
    if given == "imagenet":
        if c != 3:
            raise ExportError(f"the ImageNet statistics are for 3 channels (RGB); this input has {c}: give mean and std")
        given = IMAGENET
    if not isinstance(given, dict) or set(given) != {"mean", "std"}:
        raise ExportError('preprocess must be "imagenet" or {"mean": [...], "std": [...]} (both, one value per channel)')
    record = {}
    for key in ("mean", "std"):
        try:
            values = [float(v) for v in given[key]]
        except (TypeError, ValueError):
            values = []
        if len(values) == 1:
            values = values * c
        if len(values) != c or not all(math.isfinite(v) for v in values) or (key == "std" and min(values) <= 0):
            raise ExportError(f"image {key} {list(given[key])} must be {c} finite {'positive ' if key == 'std' else ''}numbers, "
                              f"one per channel of the input {shape} (or one for all)")
        record[key] = values
    return {**record, "size": list(shape[1:]), "color": "rgb" if c == 3 else "gray"}


def export_model(model, path, dtype="float32", features=None, labels=None, input_shape=None,
                 golden_inputs=None, golden_rows=GOLDEN_ROWS, preprocess=None):
    """Writes `model` to `path` as resgpu's native .safetensors; returns the manifest.

    features: one name per input column; labels: one class label per output (both optional);
    input_shape: the input's row shape without the batch, e.g. [30] (default: [in_features of the
    first Linear]). Golden vectors (checked by resgpu on the user's device at load): the rows of
    `golden_inputs` (a tensor [rows, *input_shape]) or, when none are given, `golden_rows` rows
    drawn from N(0, 1) with seed 0; golden_rows=0 records none. preprocess: for an image model, how
    its images were normalized, "imagenet" or {"mean": [...], "std": [...]} (after scaling pixels to
    [0, 1]; one value per channel): recorded with the resize target (the input's H, W) and the color
    (rgb for 3 channels, gray for 1), for servers to apply to images.
    """
    if dtype not in DTYPES:
        raise ExportError(f"dtype must be one of {sorted(DTYPES)}")
    if input_shape is not None:
        input_shape = [int(d) for d in input_shape]
        if not input_shape or min(input_shape) < 1:
            raise ExportError(f"input_shape {input_shape} must be one or more positive sizes")
    if model.training:
        warnings.warn("the model is in training mode; resgpu runs eval-mode inference (BatchNorm running "
                      "statistics, no Dropout). Call model.eval() before exporting to silence this.")
    # Traced and checked on an eval-mode float64 copy: the user's model is left as it was.
    reference = copy.deepcopy(model).double().eval()
    manifest, out_shape = build_manifest(reference, input_shape)
    _self_check(manifest, reference)
    features = _names(features, math.prod(manifest["inputs"][0]["shape"]), "feature names")
    labels = _names(labels, math.prod(out_shape), "labels")
    if features is not None:
        manifest["features"] = features
    if labels is not None:
        manifest["labels"] = labels
    if preprocess is not None:
        manifest["preprocess"] = _preprocess(preprocess, manifest["inputs"][0]["shape"])
    golden = _golden(reference, manifest, DTYPES[dtype][0], golden_inputs, golden_rows)
    if golden is not None:
        manifest["golden"] = golden
    _write_safetensors(path, model.state_dict(), manifest, DTYPES[dtype])
    return manifest


def _json_number(v):
    """JSON has no NaN or infinities: resgpu reads them as these strings."""
    return v if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))


def _golden(reference, manifest, storage_dtype, inputs, rows):
    """Inputs (float32) and the outputs of the model as it will be stored (weights rounded to the
    file's dtype), computed by PyTorch in float64 and in float32."""
    shape = manifest["inputs"][0]["shape"]
    if inputs is None:
        if rows <= 0:
            return None
        if rows > GOLDEN_MAX_ROWS:
            raise ExportError(f"golden_rows {rows}: resgpu's self-test runs at most {GOLDEN_MAX_ROWS} rows")
        inputs = torch.randn([rows] + list(shape), generator=torch.Generator().manual_seed(0))
        source = f"resgpu exporter, torch {torch.__version__}, inputs N(0, 1) seed 0"
    else:
        inputs = torch.as_tensor(inputs)
        if list(inputs.shape[1:]) != list(shape) or not 1 <= inputs.shape[0] <= GOLDEN_MAX_ROWS:
            raise ExportError(f"golden_inputs must be [1..{GOLDEN_MAX_ROWS}, {', '.join(map(str, shape))}], got {list(inputs.shape)}")
        source = f"resgpu exporter, torch {torch.__version__}, inputs given"
    stored = copy.deepcopy(reference)
    with torch.no_grad():
        for p in list(stored.parameters()) + list(stored.buffers()):
            if p.is_floating_point():
                p.copy_(p.to(storage_dtype).double())
        x = inputs.float()
        y64 = stored(x.double())
        y32 = stored.float()(x)
    rows_of = lambda t: [[_json_number(float(v)) for v in row] for row in t.reshape(t.shape[0], -1).tolist()]  # noqa: E731
    return {"inputs": rows_of(x), "outputs": rows_of(y64), "outputs_f32": rows_of(y32), "source": source}


def _write_safetensors(path, state, manifest, dtypes):
    """The tensors the manifest names, in state_dict order (buffers such as num_batches_tracked and
    the weights of dead code play no part in inference)."""
    torch_dtype, st_dtype = dtypes
    named = {key for node in manifest["nodes"] for key in node.get("params", {}).values()}
    header, blobs, offset = {}, [], 0
    for key, value in state.items():
        if key not in named:
            continue
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


def _name_list(value):
    """'a,b,c', or '@file' with one name per line (names may then hold commas)."""
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return [v.strip() for v in value.split(",")]


def _shape(value):
    try:
        shape = [int(v) for v in value.split(",")]
    except ValueError:
        shape = []
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a shape: positive sizes separated by commas, e.g. 30 or 3,32,32")
    return shape


def _numbers(value):
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if not numbers:
        raise argparse.ArgumentTypeError(f"{value!r} is not a list of numbers, e.g. 0.485,0.456,0.406")
    return numbers


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="export_resgpu.py", description="Export a torch.save(model) file (the whole module, not a state_dict) "
                                             "to resgpu's .safetensors with its graph manifest.")
    parser.add_argument("model", help="a file written by torch.save(model)")
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--features", type=_name_list, help="input feature names: a,b,c or @file (one per line)")
    parser.add_argument("--labels", type=_name_list, help="output class labels: a,b or @file (one per line)")
    parser.add_argument("--input-shape", type=_shape, help="the input's row shape without the batch: 30, or C,H,W "
                                                           "(default: the in_features of the first Linear)")
    parser.add_argument("--golden-rows", type=int, default=GOLDEN_ROWS,
                        help=f"golden vectors to record (inputs N(0, 1), seed 0, and PyTorch's outputs), checked by resgpu "
                             f"at load; 0 for none (default {GOLDEN_ROWS}, at most {GOLDEN_MAX_ROWS})")
    parser.add_argument("--image-mean", type=_numbers, help="an image model's per-channel mean after scaling pixels "
                                                             "to [0, 1], e.g. 0.485,0.456,0.406 (with --image-std)")
    parser.add_argument("--image-std", type=_numbers, help="its per-channel std, e.g. 0.229,0.224,0.225")
    parser.add_argument("--imagenet", action="store_true", help="torchvision's ImageNet mean and std (3 channels)")
    args = parser.parse_args(argv)
    if args.imagenet and (args.image_mean or args.image_std):
        parser.error("--imagenet sets the mean and std: give it or --image-mean/--image-std, not both")
    if (args.image_mean is None) != (args.image_std is None):
        parser.error("--image-mean and --image-std go together")
    preprocess = "imagenet" if args.imagenet else (
        {"mean": args.image_mean, "std": args.image_std} if args.image_mean is not None else None)
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
        export_model(model.eval(), args.out, args.dtype, args.features, args.labels, args.input_shape,
                     golden_rows=args.golden_rows, preprocess=preprocess)
    except ExportError as e:
        sys.exit(f"export_resgpu.py: {e}")


if __name__ == "__main__":
    main()
