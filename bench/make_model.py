#!/usr/bin/env python3
"""Writes a benchmark model with real PyTorch, in every form the contenders load:
  OUT.pt             torch.save(state_dict): what resgpu and its CPU reference load (the seed's
                     ResidualMLP presets only: a bare state_dict of the other families records no
                     activations, and resgpu refuses it by design)
  OUT.safetensors    tools/export_resgpu.py's native file (manifest v2): what resgpu loads for the
                     families of test/python/families.py
  OUT.onnx           torch.onnx.export (opset 17, dynamic batch): onnxruntime-web
  OUT.folded.json/.bin  the seed presets' layers with BatchNorm folded (float64 math, stored f32):
                     the TensorFlow.js network, written with its fused matMul + bias + ReLU. Not
                     written for the other families: the page reports TensorFlow.js as skipped there
  OUT.meta.json      what every runner needs without parsing a model: the file resgpu loads, the
                     input and output widths, and FLOPs per row (2 x multiply-adds of every Linear,
                     shortcuts included; normalizations and activations not counted)
  Image presets (IMAGE_PRESETS: torchvision ResNets, random weights with randomized BatchNorm
  statistics) write OUT.pt (the bare torchvision state_dict, which resgpu loads directly with
  inputShape), OUT.onnx, OUT.folded.json/.bin (convs with BatchNorm folded, filters HWIO, for
  TensorFlow.js's fused conv2d) and OUT.meta.json, whose input_shape is [C, H, W] and whose FLOPs count
  every Conv2d and Linear (2 x multiply-adds).
usage: make_model.py PRESET OUT   (PRESET: one of PRESETS, FAMILY_PRESETS or IMAGE_PRESETS, or
                                   breast_cancer, the bundled example)
"""
import json
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "test", "python"))
from export_resgpu import export_model  # noqa: E402
from onnx_export import export_onnx_file  # noqa: E402
from families import PreLNResNet, RtdlResNet, WideDeepResNet, randomize_norms  # noqa: E402
from residual_mlp import ResidualMLP, randomize_batchnorm  # noqa: E402

# in, hidden, blocks, out (the presets of the benchmark issue)
PRESETS = {"tabular": (30, 64, 4, 2), "small": (64, 256, 8, 10), "medium": (50, 384, 6, 7), "large": (128, 1024, 8, 16)}

# The families of issue 16 at benchmark sizes, all with 64 inputs, 10 outputs and 4 blocks, the
# width of `small` so that their cost per block is comparable with it. widedeep's last block halves
# the width, so its `resize` shortcut (Linear + BatchNorm, stacked into the GEMM) is measured too.
FAMILY_PRESETS = {
    "rtdl": lambda: RtdlResNet(64, 256, 512, 10, 4),
    "widedeep": lambda: WideDeepResNet(64, [256] * 4 + [128], 10),
    "gelu_ln": lambda: PreLNResNet(64, 256, 512, 10, 4, nn.GELU),
    "gelu_tanh_ln": lambda: PreLNResNet(64, 256, 512, 10, 4, lambda: nn.GELU(approximate="tanh")),
    "silu_ln": lambda: PreLNResNet(64, 256, 512, 10, 4, nn.SiLU),
}


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

# torchvision's ResNets at ImageNet's input size (issue 17's benchmark), and ResNet-18 at the 64 x 64
# that SwiftShader runs in seconds. name: (torchvision constructor, input [C, H, W])
IMAGE_PRESETS = {
    "resnet18": ("resnet18", [3, 224, 224]),
    "resnet50": ("resnet50", [3, 224, 224]),
    "resnet18_64": ("resnet18", [3, 64, 64]),
}


def image_flops(model, shape):
    """2 x multiply-adds of every Conv2d and Linear for one image, from a traced forward pass."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += 2 * output.numel() * module.in_channels // module.groups * kh * kw
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return total


def fold_conv(conv, bn, relu):
    """A Conv2d with its BatchNorm folded in float64, as TensorFlow.js's conv2d wants it: filter
    [kh, kw, in, out] (HWIO), bias [out], and the conv's stride and padding (square in torchvision)."""
    s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    w = conv.weight.double() * s[:, None, None, None]
    b = bn.bias.double() - bn.running_mean.double() * s
    return {"w": w.permute(2, 3, 1, 0).float(), "b": b.float(), "stride": conv.stride[0], "pad": conv.padding[0], "relu": relu}


def write_folded_image(model, out):
    """A torchvision ResNet as TensorFlow.js runs it: the stem conv (+ ReLU) and max pool, each
    block's convs (ReLU on all but the last), its downsample conv, then add + ReLU, global mean,
    fc. Written like write_folded: one .bin of f32 tensors, a .json of offsets and shapes."""
    blobs, offset = [], 0

    def add(t):
        nonlocal offset
        raw = t.detach().contiguous().numpy().tobytes()
        blobs.append(raw)
        entry = {"offset": offset, "shape": list(t.shape)}
        offset += len(raw)
        return entry

    def conv(c, bn, relu):
        f = fold_conv(c, bn, relu)
        return {**f, "w": add(f["w"]), "b": add(f["b"])}

    mp = model.maxpool
    layers = [{"type": "conv", **conv(model.conv1, model.bn1, True)},
              {"type": "maxpool", "size": mp.kernel_size, "stride": mp.stride, "pad": mp.padding}]
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in stage:
            pairs = [(block.conv1, block.bn1), (block.conv2, block.bn2)]
            if hasattr(block, "conv3"):  # Bottleneck (ResNet-50): 1x1, 3x3, 1x1
                pairs.append((block.conv3, block.bn3))
            convs = [conv(c, bn, i < len(pairs) - 1) for i, (c, bn) in enumerate(pairs)]
            layer = {"type": "block", "convs": convs}
            if block.downsample is not None:
                layer["downsample"] = conv(block.downsample[0], block.downsample[1], False)
            layers.append(layer)
    layers.append({"type": "linear", "w": add(model.fc.weight.float()), "b": add(model.fc.bias.float())})
    with open(f"{out}.folded.bin", "wb") as f:
        f.write(b"".join(blobs))
    with open(f"{out}.folded.json", "w") as f:
        json.dump({"layers": layers}, f)


def make_image(preset, out):
    import torchvision
    constructor, shape = IMAGE_PRESETS[preset]
    torch.manual_seed(0)
    model = getattr(torchvision.models, constructor)()
    randomize_norms(model, torch.Generator().manual_seed(0))
    model.eval()
    name = os.path.basename(out)
    torch.save(model.state_dict(), f"{out}.pt")
    x = torch.randn(1, *shape)
    export_onnx_file(model, x, f"{out}.onnx", 17)
    with torch.no_grad():
        write_folded_image(model, out)
    meta = {"preset": preset, "resgpu": f"{name}.pt", "onnx": f"{name}.onnx", "folded": True,
            "input_shape": shape, "input_size": shape[0] * shape[1] * shape[2],
            "output_size": model.fc.out_features, "flops_per_row": image_flops(model, shape)}
    with open(f"{out}.meta.json", "w") as f:
        json.dump(meta, f, indent=1)


def make(preset):
    """The preset's model in eval mode, its input width, and whether it is a seed ResidualMLP."""
    if preset == "breast_cancer":  # the bundled example, as tools/train_example.py trained it
        model = ResidualMLP(30, [(64, 64)] * 3, 2)
        model.load_state_dict(torch.load(os.path.join(HERE, "..", "examples", "breast_cancer.pt")))
        return model.eval(), 30, True
    torch.manual_seed(0)
    if preset in FAMILY_PRESETS:
        model = FAMILY_PRESETS[preset]()
        randomize_norms(model, torch.Generator().manual_seed(0))
        first = next(m for m in model.modules() if isinstance(m, nn.Linear))
        return model.eval(), first.in_features, False
    if preset not in PRESETS:
        sys.exit(f"make_model.py: unknown preset {preset!r}; known: {', '.join([*PRESETS, *FAMILY_PRESETS, *IMAGE_PRESETS, 'breast_cancer'])}")
    inp, hidden, blocks, classes = PRESETS[preset]
    model = ResidualMLP(inp, [(hidden, hidden)] * blocks, classes)
    randomize_batchnorm(model, torch.Generator().manual_seed(0))
    return model.eval(), inp, True


if __name__ == "__main__":
    preset, out = sys.argv[1], sys.argv[2]
    if preset in IMAGE_PRESETS:
        make_image(preset, out)
        sys.exit(0)
    model, inp, seed = make(preset)
    name = os.path.basename(out)
    if seed:
        torch.save(model.state_dict(), f"{out}.pt")
    export_model(model, f"{out}.safetensors")
    x = torch.randn(2, inp)
    export_onnx_file(model, x, f"{out}.onnx", 17)
    with torch.no_grad():
        outputs = model(x).shape[1]
        if seed:
            write_folded(model, out)
    flops = sum(2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    meta = {"preset": preset, "resgpu": f"{name}.pt" if seed else f"{name}.safetensors", "onnx": f"{name}.onnx",
            "folded": seed, "input_size": inp, "output_size": outputs, "flops_per_row": flops}
    with open(f"{out}.meta.json", "w") as f:
        json.dump(meta, f, indent=1)
