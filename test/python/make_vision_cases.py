#!/usr/bin/env python3
"""Makes image ResNets for the TypeScript tests, with real PyTorch and torchvision (Debian's
python3-torch and python3-torchvision).

usage: make_vision_cases.py OUT_DIR

Each network (torchvision's ResNet class, small where the class allows: fewer blocks, a narrower
bottleneck, small images; one real resnet18) gets its BatchNorm statistics and affines randomized
as training would leave them, and is written as <name>.pt (torch.save(state_dict)),
<name>.safetensors (tools/export_resgpu.py), <name>.opset13.onnx and <name>.opset17.onnx
(torch.onnx.export, batch dynamic). cases.json records per network its input shape, files,
`inputs` (rows, x, and PyTorch's outputs in float32 and in float64 (model.double())), and which
files exist (and pooling.dynamic_hw.onnx: the pooling network, seeded alike, with its H and W
dynamic); `layouts`: the float tensors (key, shape) of each named torchvision ResNet
(resnet18 to resnet152, the wide ones, and resnext50_32x4d, which must be refused); `refusals`: the files and messages of what must be refused (a 3×3-stem state_dict,
a groups=2 convolution through ONNX and through the exporter); `pooling`: PyTorch's max and
average pooling of images holding NaN and ±Inf; `asymmetric_conv`: a conv after F.pad unequal per
side, in float64; `torchvision`: torchvision's own resnet34 and resnet50 (random weights, randomized
BatchNorms, 10 classes) at small images, as <name>.pt, <name>.safetensors (the exporter) and
<name>.opset17.onnx only (each near 90 MB),
with one input row and PyTorch's float64 outputs. Fixed seeds: the same files on every run.
"""
import copy
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18, resnet34, resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from export_resgpu import ExportError, export_model  # noqa: E402

sys.path.insert(0, HERE)
from onnx_export import export_onnx_file, export_opsets  # noqa: E402

OPSETS = (13, 17)
INF = float("inf")


def encode(t):
    """A tensor as a flat row-major (NCHW) list, non-finite values as strings (JSON has none)."""
    return [v if v == v and abs(v) != INF else str(v) for v in t.flatten().tolist()]


def randomize(model, seed):
    """Every BatchNorm's running statistics and affine drawn as training leaves them (not 0/1), so that a
    missing or misplaced BatchNorm, or a wrong eps, changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model.eval()


def with_stem(model, in_channels, kernel=7, stride=2, padding=3):
    """torchvision's ResNet with another stem: its in_channels (grayscale), or a CIFAR-style 3×3 one."""
    model.conv1 = nn.Conv2d(in_channels, 64, kernel, stride, padding, bias=False)
    return model


class Pooling(nn.Module):
    """The image ops beyond a ResNet's, for the exporter and ONNX: BatchNorm2d on the input (which ONNX
    keeps as BatchNormalization: nothing to fold it into), a biased, dilated, rectangular, strided conv,
    AvgPool2d with and without count_include_pad and ceil_mode, a dilated MaxPool2d."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(2)
        self.conv = nn.Conv2d(2, 5, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
        self.avg = nn.AvgPool2d(3, 2, 1)
        self.avg_exclusive = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.avg_ceil = nn.AvgPool2d(2, 2, 0, ceil_mode=True)  # a partial last window, inside the input
        self.max = nn.MaxPool2d(3, 1, 1, dilation=2)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        h = F.relu(self.conv(self.bn(x)))
        h = self.max(self.avg_ceil(self.avg_exclusive(self.avg(h))))
        return self.fc(torch.flatten(self.pool(h), 1))


NETWORKS = {
    # name: (make, input shape, rows, files beside ONNX)
    "resnet18": (lambda: resnet18(num_classes=10), (3, 64, 64), 1, ("pt", "safetensors")),
    "basic_gray": (lambda: with_stem(ResNet(BasicBlock, [1, 2, 1, 1], num_classes=7), 1), (1, 32, 32), 2, ("pt", "safetensors")),
    "bottleneck": (lambda: ResNet(Bottleneck, [1, 1, 1, 1], num_classes=4, width_per_group=16), (3, 32, 32), 2, ("pt", "safetensors")),
    "pooling": (Pooling, (2, 19, 23), 3, ("safetensors",)),
}
# torchvision's deeper ResNets as torchvision builds them, at small images (their convolutions cost
# little there; their files do not, hence one ONNX opset). name: (make, input shape)
TORCHVISION = {"resnet34": (lambda: resnet34(num_classes=10), (3, 32, 32)), "resnet50": (lambda: resnet50(num_classes=10), (3, 40, 40))}

# Other input sizes each network runs at besides its own (run(x, { inputShape })): odd sizes, so
# that every stride-2 layer rounds.
OTHER_SIZES = {"resnet18": [(3, 40, 56)], "basic_gray": [(1, 17, 23), (1, 64, 48)], "bottleneck": [(3, 45, 33)]}
LAYOUTS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2",
           "resnext50_32x4d")


def network_case(out, index, name):
    make, shape, rows, formats = NETWORKS[name]
    torch.manual_seed(index)
    model = randomize(make(), 1000 + index)
    x = torch.randn(rows, *shape, generator=torch.Generator().manual_seed(100 + index))
    files = {"onnx": {k: os.path.basename(p) for k, p in export_opsets(model, x, os.path.join(out, name), OPSETS).items()}}
    if "safetensors" in formats:
        files["safetensors"] = f"{name}.safetensors"
        export_model(model, os.path.join(out, files["safetensors"]), input_shape=list(shape))
    if "pt" in formats:
        files["pt"] = f"{name}.pt"
        torch.save(model.state_dict(), os.path.join(out, files["pt"]))
    with torch.no_grad():
        y32, y64 = model(x), copy.deepcopy(model).double()(x.double())
    sizes = []
    for other in OTHER_SIZES.get(name, []):
        xs = torch.randn(rows, *other, generator=torch.Generator().manual_seed(200 + index))
        with torch.no_grad():
            sizes.append({"input_shape": list(other), "x": encode(xs), "float64": encode(copy.deepcopy(model).double()(xs.double()))})
    return {"name": name, "input_shape": list(shape), "output_size": y32.shape[1], "files": files,
            "inputs": {"rows": rows, "x": encode(x), "float32": encode(y32), "float64": encode(y64)}, "sizes": sizes}


def torchvision_case(out, index, name):
    make, shape = TORCHVISION[name]
    torch.manual_seed(50 + index)
    model = randomize(make(), 2000 + index)
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(300 + index))
    torch.save(model.state_dict(), os.path.join(out, f"{name}.pt"))
    export_model(model, os.path.join(out, f"{name}.safetensors"), input_shape=list(shape))
    export_onnx_file(model, x, os.path.join(out, f"{name}.opset17.onnx"), 17)
    with torch.no_grad():
        y64 = copy.deepcopy(model).double()(x.double())
    return {"name": name, "input_shape": list(shape),
            "files": {"pt": f"{name}.pt", "safetensors": f"{name}.safetensors", "onnx": f"{name}.opset17.onnx"},
            "x": encode(x), "float64": encode(y64)}


def refusals(out):
    """Files resgpu must refuse, and the exporter's own refusal."""
    cifar = with_stem(ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), 3, kernel=3, stride=1, padding=1)
    torch.save(cifar.state_dict(), os.path.join(out, "cifar_stem.pt"))
    grouped = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    torch.onnx.export(grouped, torch.randn(1, 4, 8, 8), os.path.join(out, "grouped.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])
    try:
        export_model(grouped, os.path.join(out, "grouped.safetensors"), input_shape=[4, 8, 8])
        exporter = None
    except ExportError as e:
        exporter = str(e)
    # The pooling network with its image size left dynamic: the load option inputShape gives it.
    torch.manual_seed(3)
    torch.onnx.export(randomize(Pooling(), 1003), torch.randn(1, 2, 19, 23), os.path.join(out, "pooling.dynamic_hw.onnx"),
                      opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch", 2: "h", 3: "w"}, "y": {0: "batch"}})
    return {"cifar_stem_pt": "cifar_stem.pt", "grouped_onnx": "grouped.onnx", "grouped_exporter": exporter,
            "dynamic_hw_onnx": "pooling.dynamic_hw.onnx",
            "grouped_written": os.path.exists(os.path.join(out, "grouped.safetensors"))}


def layouts():
    """The state_dict keys and shapes of torchvision's named ResNets (float tensors only; num_classes 1000)."""
    import torchvision.models as tv
    result = {}
    for name in LAYOUTS:
        model = getattr(tv, name)()
        sd = model.state_dict()
        result[name] = [[k, list(v.shape)] for k, v in sd.items() if v.is_floating_point()]
    return result


def asymmetric_conv():
    """A conv after F.pad unequal per side, in float64: what a conv2d node with padding [top, left, bottom,
    right] (ONNX's pads) computes. (torch 1.13 exports F.pad's pads as a computed subgraph, not a constant.)"""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 8, 7, generator=g).double()
    w, b = torch.randn(4, 3, 3, 2, generator=g).double(), torch.randn(4, generator=g).double()
    y = F.conv2d(F.pad(x, (1, 2, 0, 1)), w, b, stride=2)
    return {"x": encode(x.float()), "weight": encode(w), "bias": encode(b), "float64": encode(y), "input_shape": [3, 8, 7],
            "weight_shape": list(w.shape), "attrs": {"stride": [2, 2], "padding": [0, 1, 1, 2]}, "output_shape": list(y.shape[1:])}


def pooling_specials():
    """PyTorch's pooling of a 1×4×4 image holding NaN, +Inf and -Inf, in float32 and float64: max pooling
    propagates NaN (ATen's max takes a NaN and keeps it); an average takes whatever its sum gives."""
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1], x[0, 0, 2, 2], x[0, 0, 3, 0] = float("nan"), INF, -INF
    calls = {
        "maxpool2d": ({"kernel": [2, 2], "stride": [1, 1], "padding": [1, 1]}, lambda t: F.max_pool2d(t, 2, 1, 1)),
        "avgpool2d": ({"kernel": [2, 2], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True},
                      lambda t: F.avg_pool2d(t, 2, 2, 1, ceil_mode=True)),
    }
    return {"x": encode(x), "shape": [1, 4, 4], "ops": [
        {"op": op, "attrs": attrs, "float32": encode(fn(x)), "float64": encode(fn(x.double())),
         "shape": list(fn(x).shape[1:])} for op, (attrs, fn) in calls.items()]}


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = {"networks": [network_case(out, i, name) for i, name in enumerate(NETWORKS)],
             "refusals": refusals(out), "pooling": pooling_specials(), "layouts": layouts(),
             "asymmetric_conv": asymmetric_conv(),
             "torchvision": [torchvision_case(out, i, name) for i, name in enumerate(TORCHVISION)]}
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
