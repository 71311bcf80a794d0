#!/usr/bin/env python3
"""Trains the digits example's image ResNet on scikit-learn's handwritten digits and writes it
where the page loads it.

usage: train.py OUT_DIR

The data: sklearn.datasets.load_digits(), 1797 images of 8×8 pixels, each pixel the count
(0..16) of ink pixels in a 4×4 block of a 32×32 bitmap: light digits on a dark background. A
fixed 20 % (stratified, seed 0) is held out and never trained on.

The input the network sees, and which the page must reproduce (digits.meta.json records it):
pixel / 16 (so [0, 1], ink = 1), then (x − MEAN) / STD with the training set's mean and spread
rounded. In the browser that is imageToInput(canvas, { size: [8, 8], mean: [MEAN], std: [STD] }):
the helper's area averaging of a 32×32 drawing to 8×8 is the data set's own 4×4 block averaging.

The network: a residual CNN (stem Conv3×3 + BatchNorm2d + ReLU, three BasicBlocks, the second
one strided with a 1×1 Conv + BatchNorm2d projection shortcut, global average pooling, Linear).
It is not torchvision's ResNet (whose 7×7 stride-2 stem and 64..512 channels suit 224×224 photos,
not 8×8 digits), so a bare state_dict does not say how to run it: the file the page loads is
written by tools/export_resgpu.py, which traces forward() and records the graph in the
.safetensors file itself, with golden vectors resgpu checks at load.

Writes into OUT_DIR: digits.pt (torch.save(model.state_dict()), the training artifact),
digits.safetensors (the exporter's file, for resgpu), digits.test.json (the held-out images as
0..16 pixels, their labels, PyTorch's logits and class probabilities in float32, and the test
accuracy) and digits.meta.json (the preprocessing and labels), last: its presence means done.
Fixed seeds and one thread count: the same files on every run of the same PyTorch.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from export_resgpu import export_model  # noqa: E402

# The training set's mean and spread of pixel / 16 are 0.305 and 0.376 (measured); rounded, so
# the page can state them.
MEAN, STD = 0.3, 0.38
EPOCHS = 10
LABELS = [str(d) for d in range(10)]


class BasicBlock(nn.Module):
    """conv3×3 + BN + ReLU, conv3×3 + BN, plus the input (or its 1×1 projection when the shape changes), ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class DigitsResNet(nn.Module):
    """1×8×8 → stem 16 channels → blocks 16 (8×8), 32 (4×4, projection), 32 → pool → 10 logits."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 32, stride=2), BasicBlock(32, 32))
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def preprocess(pixels):
    """0..16 pixels [N, 8, 8] → the network's input [N, 1, 8, 8]."""
    return ((torch.as_tensor(pixels, dtype=torch.float32) / 16 - MEAN) / STD).unsqueeze(1)


def shifted(x, g):
    """The batch moved by up to one pixel in each direction, background coming in (ink 0, i.e.
    −MEAN/STD): drawings on the page are never centered exactly like the data set's."""
    dy, dx = torch.randint(0, 3, (2,), generator=g).tolist()
    return F.pad(x, (1, 1, 1, 1), value=-MEAN / STD)[:, :, dy:dy + 8, dx:dx + 8]


def train(x, y):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = DigitsResNet()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = EPOCHS * ((len(x) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(shifted(x[idx], g)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    started = time.time()
    digits = load_digits()
    train_px, test_px, train_y, test_y = train_test_split(digits.images, digits.target, test_size=0.2,
                                                          stratify=digits.target, random_state=0)
    model = train(preprocess(train_px), torch.as_tensor(train_y))
    x_test = preprocess(test_px)
    with torch.no_grad():
        logits = model(x_test)
        p32 = F.softmax(logits, 1)
    accuracy = float((p32.argmax(1).numpy() == test_y).mean())
    torch.save(model.state_dict(), os.path.join(out, "digits.pt"))
    export_model(model, os.path.join(out, "digits.safetensors"), input_shape=[1, 8, 8], labels=LABELS,
                 golden_inputs=x_test[:8])
    with open(os.path.join(out, "digits.test.json"), "w") as f:
        json.dump({"pixels": test_px.astype(int).reshape(len(test_px), -1).tolist(), "labels": test_y.tolist(),
                   "logits": logits.numpy().tolist(), "probabilities": p32.numpy().tolist(),
                   "accuracy": accuracy}, f)
    meta = {"model": "digits.safetensors", "input_shape": [1, 8, 8], "mean": [MEAN], "std": [STD], "labels": LABELS,
            "pixel_scale": 16, "test_accuracy": accuracy, "train_images": len(train_px), "test_images": len(test_px),
            "epochs": EPOCHS, "train_seconds": round(time.time() - started, 1), "torch": torch.__version__,
            "train_py_sha256": hashlib.sha256(open(__file__, "rb").read()).hexdigest()}
    with open(os.path.join(out, "digits.meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"digits: test accuracy {accuracy:.4f} on {len(test_px)} held-out images, {meta['train_seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
