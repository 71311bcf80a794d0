#!/usr/bin/env python3
"""An image ResNet and PyTorch's answers, for serve/test/oip-vision.node.test.ts.

usage: make_oip_vision.py OUT_DIR

torchvision's resnet18 (10 classes) with random weights and its BatchNorm statistics randomized
(test/python/make_vision_cases.py's randomize), exported at 3×64×64 by tools/export_resgpu.py with
a preprocess record (FILE_STATS, deliberately not ImageNet's, so that a server ignoring the file
would answer otherwise). Writes resnet18_64.safetensors (and the bare state_dict as resnet18_64.pt), two RGB PNGs of other sizes, and
cases.json: `tensors` (rows of N(0, 1) input and the model's float32 outputs), and per image the
float32 outputs after torchvision's own preprocessing (ToTensor, Resize((64, 64), antialias=True),
Normalize) with the file's statistics and with FLAG_STATS (what --image-mean/--image-std give).
Fixed seeds: the same files on every run.
"""
import json
import os
import sys

import torch
from PIL import Image
from torchvision.models import resnet18
from torchvision.transforms import functional as TF

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "test", "python"))
from export_resgpu import export_model  # noqa: E402
from make_vision_cases import randomize  # noqa: E402

SHAPE = [3, 64, 64]
FILE_STATS = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
FLAG_STATS = {"mean": [0.1, 0.2, 0.3], "std": [0.5, 0.25, 2.0]}
IMAGES = (("a.png", 83, 71), ("b.png", 40, 52))  # name, width, height: one shrunk, one enlarged
ROWS = 3


def outputs(model, x):
    with torch.no_grad():
        return model(x).flatten().tolist()


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = randomize(resnet18(num_classes=10), 1234)
    export_model(model, os.path.join(out, "resnet18_64.safetensors"), input_shape=SHAPE, preprocess=FILE_STATS)
    torch.save(model.state_dict(), os.path.join(out, "resnet18_64.pt"))  # a bare state_dict: no shape, no preprocess
    x = torch.randn(ROWS, *SHAPE, generator=torch.Generator().manual_seed(1))
    cases = {"shape": SHAPE, "file_stats": FILE_STATS, "flag_stats": FLAG_STATS,
             "tensors": {"x": x.flatten().tolist(), "float32": outputs(model, x)}, "images": []}
    g = torch.Generator().manual_seed(2)
    for name, width, height in IMAGES:
        # A smooth gradient plus noise, so that resizing has both detail and structure to mix.
        ramp = (torch.arange(width)[None, :, None] * 3 + torch.arange(height)[:, None, None] * 2 + torch.tensor([0, 60, 120]))
        pixels = ((ramp + torch.randint(0, 64, (height, width, 3), generator=g)) % 256).to(torch.uint8)
        Image.fromarray(pixels.numpy(), "RGB").save(os.path.join(out, name))
        image = TF.to_tensor(Image.open(os.path.join(out, name)).convert("RGB"))  # [0, 1], as the server scales
        resized = TF.resize(image, SHAPE[1:], antialias=True)
        cases["images"].append({"name": name, **{key: outputs(model, TF.normalize(resized, **stats)[None])
                                                 for key, stats in (("with_file_stats", FILE_STATS), ("with_flag_stats", FLAG_STATS))}})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main(sys.argv[1])
