#!/usr/bin/env python3
"""Makes PyTorch parity cases for the test suite, with real PyTorch, at test time.

usage: make_torch_cases.py OUT_DIR

For each case it writes <name>.pt (torch.save(model.state_dict())), <name>.safetensors (through
tools/export_resgpu.py), and records in cases.json the input and model.eval()(x) as PyTorch
computes it. It also writes hostile and broken files (bad/*.pt) for the loader's error tests.
"""
import copy
import io
import json
import os
import pickle
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from export_resgpu import export_model  # noqa: E402
from residual_mlp import ResidualBlock, ResidualMLP, randomize_batchnorm  # noqa: E402
sys.path.insert(0, HERE)
from make_hostile_cases import write_hostile_cases  # noqa: E402
from make_onnx_graph_cases import main as write_onnx_graph_cases  # noqa: E402
from onnx_export import export_onnx_file  # noqa: E402

CASES = [
    # name, in, [(hidden, out) per block], head, batchnorm, dtype
    ("one_block_identity", 16, [(32, 16)], None, True, "float32"),
    ("one_block_projection_odd", 37, [(200, 3)], None, True, "float32"),
    ("odd_sizes_with_head", 37, [(200, 64), (64, 64)], 3, True, "float32"),
    ("no_batchnorm", 20, [(40, 20), (33, 11)], 2, False, "float32"),
    ("eight_blocks_widths_changing", 30, [(64, 64), (48, 32), (32, 32), (80, 72), (72, 72), (40, 40), (9, 13), (13, 13)], 5, True, "float32"),
    ("float16_save", 24, [(48, 24), (48, 12)], 4, True, "float16"),
]


def save(state_dict, path):
    torch.save(state_dict, path)


ONNX_OPSETS = (11, 13, 17)


def export_onnx(model, x, stem):
    """<stem>.opsetN.onnx: dynamic batch at opsets 13 and 17, the batch fixed to x's at 11."""
    for opset in ONNX_OPSETS:
        export_onnx_file(model, x, f"{stem}.opset{opset}.onnx", opset, dynamic=opset != 11)


def main(out):
    os.makedirs(os.path.join(out, "bad"), exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    cases = []
    for i, (name, inp, widths, head, bn, dtype) in enumerate(CASES):
        torch.manual_seed(i)
        model = ResidualMLP(inp, widths, head, dropout=0.3, batchnorm=bn)
        randomize_batchnorm(model, gen)
        model.eval()
        if dtype == "float16":
            model = model.half().float()  # the weights PyTorch would load back from a half save
        x = torch.randn(9, inp, generator=gen)
        with torch.no_grad():
            y = model(x)
        state = model.state_dict()
        if dtype == "float16":
            state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
        save(state, os.path.join(out, f"{name}.pt"))
        export_model(model, os.path.join(out, f"{name}.safetensors"), dtype=dtype)
        export_onnx(model, x, os.path.join(out, name))
        cases.append({"name": name, "input_size": inp, "rows": 9, "blocks": len(widths), "head": head is not None,
                      "x": x.flatten().tolist(), "y": y.flatten().tolist(), "output_size": y.shape[1]})

    # Tensors as views: a transposed (non-contiguous) weight and one at a storage offset.
    torch.manual_seed(99)
    model = ResidualMLP(10, [(12, 6)], 3).eval()
    randomize_batchnorm(model, gen)
    state = model.state_dict()
    w = state["blocks.0.linear1.weight"]
    state["blocks.0.linear1.weight"] = w.t().contiguous().t()
    assert not state["blocks.0.linear1.weight"].is_contiguous()
    b = state["head.bias"]
    big = torch.zeros(b.numel() + 5)
    big[5:] = b
    state["head.bias"] = big[5:]
    save(state, os.path.join(out, "views.pt"))
    x = torch.randn(4, 10, generator=gen)
    with torch.no_grad():
        y = model(x)
    cases.append({"name": "views", "input_size": 10, "rows": 4, "blocks": 1, "head": True,
                  "x": x.flatten().tolist(), "y": y.flatten().tolist(), "output_size": 3})
    # A ResidualBlock saved on its own: keys without a prefix ("linear1.weight", ...).
    torch.manual_seed(7)
    block = ResidualBlock(6, 10, 5).eval()
    randomize_batchnorm(block, gen)
    save(block.state_dict(), os.path.join(out, "bare_block.pt"))
    x = torch.randn(3, 6, generator=gen)
    with torch.no_grad():
        y = block(x)
    cases.append({"name": "bare_block", "input_size": 6, "rows": 3, "blocks": 1, "head": False,
                  "x": x.flatten().tolist(), "y": y.flatten().tolist(), "output_size": 5})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f)
    write_bad_files(os.path.join(out, "bad"))
    write_inference_cases(os.path.join(out, "infer"), gen)
    write_nonfinite_case(os.path.join(out, "nonfinite"), gen)
    write_hostile_cases(os.path.join(out, "hostile"))
    write_onnx_graph_cases(os.path.join(out, "graphs"))


class Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def zip_with(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)


def write_bad_files(bad):
    import builtins
    import subprocess
    good = io.BytesIO()
    torch.save(ResidualBlock(4, 5, 4).state_dict(), good)
    raw = good.getvalue()
    z = zipfile.ZipFile(io.BytesIO(raw))
    files = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in files if n.endswith("data.pkl"))
    root = pkl[: -len("data.pkl")]

    # Hostile pickles, made by Python's own pickler: loading must refuse, never run them.
    for name, fn, args in [("os_system", os.system, ("echo pwned",)), ("builtins_eval", builtins.eval, ("1+1",)),
                           ("subprocess_popen", subprocess.Popen, (["true"],))]:
        zip_with(os.path.join(bad, f"{name}.pt"), {**files, pkl: pickle.dumps({"w": Evil(fn, args)}, protocol=2)})
    with open(os.path.join(bad, "truncated_zip.pt"), "wb") as f:
        f.write(raw[: len(raw) // 2])
    zip_with(os.path.join(bad, "no_data_pkl.pt"), {n: d for n, d in files.items() if n != pkl})
    storage = next(n for n in files if "/data/" in n)
    zip_with(os.path.join(bad, "short_storage.pt"), {**files, storage: files[storage][:3]})
    zip_with(os.path.join(bad, "truncated_pickle.pt"), {**files, pkl: files[pkl][:40]})
    zip_with(os.path.join(bad, "deep_nesting.pt"), {**files, pkl: b"\x80\x02" + b"(" * 100000 + b"."})
    zip_with(os.path.join(bad, "unknown_opcode.pt"), {**files, pkl: b"\x80\x02\xff."})
    torch.save(ResidualBlock(4, 5, 4).state_dict(), os.path.join(bad, "legacy.pt"), _use_new_zipfile_serialization=False)
    # An ONNX graph with an op resgpu does not run.
    sig = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2)).eval()
    torch.onnx.export(sig, torch.randn(1, 4), os.path.join(bad, "sigmoid.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])
    # A state_dict from which no graph can be inferred: a lone BatchNorm between linears.
    seq = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    torch.save(seq.state_dict(), os.path.join(bad, "uninferable.pt"))
    # A head whose width disagrees with the block before it.
    block = ResidualMLP(4, [(5, 4)], 2).state_dict()
    block["head.weight"] = torch.zeros(2, 7)
    torch.save(block, os.path.join(bad, "shape_mismatch.pt"))


class FcBlock(torch.nn.Module):
    """A residual block whose Linears are named fc1/fc2: the names say nothing of its ReLUs and add."""

    def __init__(self, n, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(n, hidden)
        self.fc2 = torch.nn.Linear(hidden, n)

    def forward(self, x):
        return torch.relu(x + self.fc2(torch.relu(self.fc1(x))))


class StemThenBlocks(torch.nn.Module):
    """A stem Linear with a ReLU after it, then seed-style blocks and a head."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Linear(6, 8)
        self.blocks = torch.nn.Sequential(ResidualBlock(8, 12, 8, batchnorm=False))
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.blocks(torch.relu(self.stem(x))))


def write_inference_cases(out, gen):
    """State_dicts whose graph their keys do not prove: inference must refuse them (infer/*.pt),
    with PyTorch's outputs recorded so a test can check the graph the refusal suggests."""
    os.makedirs(out, exist_ok=True)
    nn = torch.nn
    torch.manual_seed(5)
    models = {
        "sequential_mlp": nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)),
        "fc_blocks": nn.Sequential(FcBlock(6, 10), FcBlock(6, 10), nn.Linear(6, 3)),
        "stem_relu": StemThenBlocks(),
        "sequential_blocks_gap": nn.Sequential(ResidualBlock(6, 10, 6, batchnorm=False), nn.ReLU(), nn.Linear(6, 3)),
        "two_heads": nn.Sequential(ResidualBlock(6, 10, 6, batchnorm=False), nn.Linear(6, 5), nn.Linear(5, 3)),
    }
    cases = {}
    for name, model in models.items():
        model.eval()
        x = torch.randn(4, 6, generator=gen)
        with torch.no_grad():
            y = model(x)
        torch.save(model.state_dict(), os.path.join(out, f"{name}.pt"))
        cases[name] = {"x": x.flatten().tolist(), "y": y.flatten().tolist()}
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f)
    # A misspelt key: a GraphError naming it, not an internal failure.
    state = ResidualBlock(4, 5, 4).state_dict()
    state["linear1.wieght"] = state.pop("linear1.weight")
    torch.save(state, os.path.join(out, "misspelt.pt"))


def write_nonfinite_case(out, gen):
    """Inputs holding NaN and +-Inf (missing or broken lab values) through a model with BatchNorm,
    identity and projection blocks and a head; PyTorch's outputs recorded with non-finite values
    as the strings "nan", "inf", "-inf" (JSON has no such numbers)."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(11)
    model = ResidualMLP(5, [(7, 5), (9, 3)], 2).eval()
    randomize_batchnorm(model, gen)
    x = torch.randn(8, 5, generator=gen)
    x[1, 2] = float("nan")
    x[2, 0] = float("inf")
    x[3, 4] = float("-inf")
    x[4, :] = float("-inf")
    x[5, 1] = float("inf")
    x[5, 3] = float("-inf")
    x[6, :] = float("nan")
    with torch.no_grad():
        y = model(x)
    torch.save(model.state_dict(), os.path.join(out, "model.pt"))
    enc = lambda t: [v if v == v and abs(v) != float("inf") else str(v) for v in t.flatten().tolist()]
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump({"x": enc(x), "y": enc(y), "rows": 8, "input_size": 5, "output_size": 2}, f)


if __name__ == "__main__":
    main(sys.argv[1])
