#!/usr/bin/env python3
"""Trains the bundled example: a residual MLP classifying the Wisconsin breast-cancer data set.

The data ships with scikit-learn (Debian: python3-sklearn), so this runs offline. Writes
  examples/breast_cancer.pt              torch.save(model.state_dict()), what users have
  examples/breast_cancer.safetensors     the same model through tools/export_resgpu.py, with
                                         scikit-learn's 30 feature names and the labels
                                         malignant/benign in its manifest
  examples/breast_cancer.test.json       the held-out test set (raw measurements), its labels,
                                         and PyTorch's logits
The network trains on standardized inputs; the standardization (the training split's mean and
std) is then folded into the first block's two input Linears, so the saved model takes the raw
measurements of a clinical record. Deterministic: fixed seeds, one thread.
"""
import json
import os
import sys

import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(__file__))
from export_resgpu import export_model  # noqa: E402
from residual_mlp import ResidualMLP  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "examples")


def fold_standardization(block, mean, std):
    """Makes the block take raw x where it took (x - mean) / std: every Linear reading the block's
    input (linear1 and the projection shortcut) gets W / std and b - W @ (mean / std), in float64."""
    mean = torch.tensor(mean, dtype=torch.float64)
    std = torch.tensor(std, dtype=torch.float64)
    for linear in (block.linear1, block.shortcut[0]):
        w = linear.weight.double()
        linear.bias.copy_(linear.bias.double() - w @ (mean / std))
        linear.weight.copy_(w / std)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=0, stratify=data.target)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_test_raw = x_test
    x_train = torch.tensor((x_train - mean) / std, dtype=torch.float32)
    x_test = torch.tensor((x_test - mean) / std, dtype=torch.float32)
    y_train = torch.tensor(y_train, dtype=torch.long)

    # 30 features -> block (projection to 64) -> 2 identity blocks -> 2 logits
    model = ResidualMLP(30, [(64, 64), (64, 64), (64, 64)], out_features=2, dropout=0.2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(30):
        model.train()
        for idx in torch.randperm(len(x_train)).split(32):
            optimizer.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()

    model.eval()
    with torch.no_grad():
        standardized_logits = model(x_test)
        fold_standardization(model.blocks[0], mean, std)
        x_test = torch.tensor(x_test_raw, dtype=torch.float32)
        logits = model(x_test)
    # The folded model sees raw values (up to ~4000 for "worst area"): f32 rounding moves the logits a little.
    assert torch.allclose(logits, standardized_logits, atol=1e-4), "folding the standardization changed the model"
    accuracy = (logits.argmax(1).numpy() == y_test).mean()
    print(f"test accuracy {accuracy:.4f} on {len(y_test)} samples")

    torch.save(model.state_dict(), os.path.join(OUT, "breast_cancer.pt"))
    export_model(model, os.path.join(OUT, "breast_cancer.safetensors"),
                 features=list(data.feature_names), labels=list(data.target_names))
    with open(os.path.join(OUT, "breast_cancer.test.json"), "w") as f:
        json.dump({
            "description": "Wisconsin breast cancer (scikit-learn), 20% held out; inputs are the raw "
                           "measurements (the model folds in the training split's standardization). "
                           "Label 1 = benign, 0 = malignant.",
            "feature_names": list(data.feature_names),
            "classes": list(data.target_names),
            "mean": mean.tolist(), "std": std.tolist(),
            "inputs": x_test_raw.tolist(), "labels": y_test.tolist(),
            "torch_logits": logits.tolist(),
            "torch_version": torch.__version__,
        }, f)


if __name__ == "__main__":
    main()
