"""torch.onnx.export as every test and benchmark model is written: input "x", output "y", the batch
dimension dynamic (a fixed batch only where a case asks for one)."""
import os

import torch

DYNAMIC_BATCH = {"x": {0: "batch"}, "y": {0: "batch"}}


def export_onnx_file(model, x, path, opset, dynamic=True):
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["x"], output_names=["y"],
                      dynamic_axes=DYNAMIC_BATCH if dynamic else None)


def export_opsets(model, x, stem, opsets):
    """<stem>.opset<N>.onnx for each opset N; returns {"N": path}."""
    files = {}
    for opset in opsets:
        files[str(opset)] = f"{stem}.opset{opset}.onnx"
        export_onnx_file(model, x, files[str(opset)], opset)
    return files
