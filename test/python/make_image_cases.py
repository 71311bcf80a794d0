#!/usr/bin/env python3
"""Expected rows of imageToInput (src/image.ts) for fixed RGBA images, computed independently:
numpy, PyTorch's F.interpolate and torchvision's ToTensor + Normalize on PIL images.

usage: make_image_cases.py OUT_JSON

Each case: the RGBA bytes (width, height), the options imageToInput gets, and the float64 row
(NCHW). The area resize is computed exactly by repetition: each source pixel repeated out times
along an axis, then the means of in-pixel blocks (the mean of what each output pixel covers,
fractions included); the bilinear one is F.interpolate(align_corners=False) in float64.
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
rng = np.random.default_rng(0)


def rgba(h, w):
    return rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)


def planes(px, channels, invert=False):
    """[C, H, W] float64 in 0..255: RGB, or luminance (ITU-R 601) for one channel."""
    rgb = px[:, :, :3].astype(np.float64).transpose(2, 0, 1)
    v = rgb if channels == 3 else (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])[None]
    return 255 - v if invert else v


def area(v, out_h, out_w):
    c, h, w = v.shape
    v = np.repeat(np.repeat(v, out_h, axis=1), out_w, axis=2)
    return v.reshape(c, out_h, h, out_w, w).mean(axis=(2, 4))


def bilinear(v, out_h, out_w):
    t = torch.from_numpy(v)[None]
    return F.interpolate(t, size=(out_h, out_w), mode="bilinear", align_corners=False)[0].numpy()


def normalized(v, mean, std):
    mean, std = np.array(mean)[:, None, None], np.array(std)[:, None, None]
    return (v / 255 - mean) / std


def case(name, px, options, row):
    h, w = px.shape[:2]
    return {"name": name, "width": w, "height": h, "rgba": px.flatten().tolist(), "options": options,
            "float64": row.flatten().tolist()}


def main(out):
    cases = []
    px = rgba(23, 37)  # fractional ratios both ways: 23 → 8 rows, 37 → 10 columns
    cases.append(case("RGB, area, 37×23 → 10×8, ImageNet", px, {"size": [8, 10]},
                      normalized(area(planes(px, 3), 8, 10), **IMAGENET)))
    px = rgba(5, 7)
    cases.append(case("RGB, bilinear up, 7×5 → 12×16, none", px, {"size": [16, 12], "resize": "bilinear", "normalize": "none"},
                      normalized(bilinear(planes(px, 3), 16, 12), [0], [1])))
    px = rgba(29, 31)
    cases.append(case("RGB, bilinear down, 31×29 → 8×8, custom per channel", px,
                      {"size": [8, 8], "resize": "bilinear", "normalize": {"mean": [0.1, 0.2, 0.3], "std": [0.5, 0.25, 2]}},
                      normalized(bilinear(planes(px, 3), 8, 8), [0.1, 0.2, 0.3], [0.5, 0.25, 2])))
    px = rgba(24, 40)  # center-crop keeps the middle 24×24 (columns 8..31), then 3×3 blocks
    crop = px[:, 8:32]
    cases.append(case("luminance, inverted, center-crop, area 40×24 → 8×8", px,
                      {"size": [8, 8], "channels": 1, "fit": "center-crop", "invert": True, "normalize": {"mean": [0.3], "std": [0.38]}},
                      normalized(area(planes(crop, 1, invert=True), 8, 8), [0.3], [0.38])))
    px = rgba(30, 20)  # tall: center-crop keeps rows 5..24
    cases.append(case("RGB, center-crop, bilinear 20×30 → 10×10", px, {"size": [10, 10], "fit": "center-crop", "resize": "bilinear"},
                      normalized(bilinear(planes(px[5:25], 3), 10, 10), **IMAGENET)))
    # Without a resize, torchvision itself: PIL drops alpha (convert('RGB')), ToTensor, Normalize.
    px = rgba(6, 9)
    tv = T.Compose([T.ToTensor(), T.Normalize(**IMAGENET)])(Image.fromarray(px, "RGBA").convert("RGB"))
    cases.append(case("RGB, own size, torchvision's ToTensor + Normalize", px, {}, tv.double().numpy()))
    # A 4× reduction is 4×4 block averaging: F.avg_pool2d.
    px = rgba(32, 32)
    pooled = F.avg_pool2d(torch.from_numpy(planes(px, 1))[None], 4)[0].numpy()
    cases.append(case("luminance, 32×32 → 8×8 (avg_pool2d 4)", px, {"size": [8, 8], "channels": 1, "normalize": "none"},
                      normalized(pooled, [0], [1])))
    with open(out, "w") as f:
        json.dump({"cases": cases}, f)


if __name__ == "__main__":
    main(sys.argv[1])
