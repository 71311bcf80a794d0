"""tools/export_resgpu.py against real PyTorch: what it writes (manifest v2, checked here by
running the written file with the manifest's float64 interpreter), what it refuses, by name, and
what it warns about. The TypeScript loader checks the same files again once it reads v2."""
import copy
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
from export_resgpu import ExportError, export_model  # noqa: E402
from families import D_IN, FAMILIES, make_family  # noqa: E402
from resgpu_manifest import ACTIVATIONS, run_manifest  # noqa: E402
from residual_mlp import ResidualBlock, ResidualMLP  # noqa: E402

ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """(manifest, {name: tensor}) of a file the exporter wrote."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header, data = json.loads(f.read(n)), f.read()
    manifest = json.loads(header.pop("__metadata__")["resgpu.graph"])
    tensors = {k: torch.frombuffer(bytearray(data[v["data_offsets"][0]:v["data_offsets"][1]]),
                                   dtype=ST_DTYPES[v["dtype"]]).reshape(v["shape"]) for k, v in header.items()}
    return manifest, tensors


class AllActivations(nn.Module):
    """Every function and method spelling the exporter maps, one after another."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 4)

    def forward(self, x):
        h = F.leaky_relu(self.a(x), 0.2) + torch.relu(x)
        h = torch.add(F.gelu(h, approximate="tanh"), F.silu(h)).relu()
        h = torch.sigmoid(self.b(h)).add(F.relu(h)).tanh() + F.gelu(h)
        h = F.dropout(torch.flatten(h, 1), 0.5, self.training)
        return self.c(torch.tanh(h))


class ExporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "m.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def export_and_run(self, model, rows=7, **kwargs):
        """Exports, reads the file back and runs it in float64: (manifest, file's output, model's output)."""
        export_model(model, self.path, **kwargs)
        manifest, tensors = read_safetensors(self.path)
        x = torch.randn(rows, *manifest["inputs"][0]["shape"], generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            got = run_manifest(manifest, {k: t.double() for k, t in tensors.items()}, x.double())
            expected = copy.deepcopy(model).eval()(x)
        return manifest, got, expected

    def assert_refused(self, model, pattern, **kwargs):
        if os.path.exists(self.path):
            os.remove(self.path)
        with self.assertRaisesRegex(ExportError, pattern):
            export_model(model, self.path, **kwargs)
        self.assertFalse(os.path.exists(self.path), "a refused model must leave no file")

    def test_every_family_exports_as_v2_and_the_file_computes_what_pytorch_does(self):
        for name in FAMILIES:
            with self.subTest(family=name):
                model = make_family(name)
                manifest, got, expected = self.export_and_run(model)
                self.assertEqual((manifest["format"], manifest["version"]), ("resgpu-graph", 2))
                self.assertEqual(manifest["inputs"], [{"name": "x", "shape": [D_IN]}])
                state = model.state_dict()
                for node in manifest["nodes"]:
                    for key in node.get("params", {}).values():
                        self.assertIn(key, state)
                # float32 weights run in float64 against the float32 model: float32's rounding only.
                self.assertLess((got - expected.double()).abs().max().item(), 1e-5 * max(1.0, expected.abs().max().item()))

    def test_the_seed_model_still_exports_with_state_dict_names_and_module_paths(self):
        manifest, got, expected = self.export_and_run(ResidualMLP(8, [(16, 12), (16, 12)], 3).eval())
        first = manifest["nodes"][0]
        self.assertEqual(first, {"op": "linear", "name": "blocks.0.linear1", "inputs": ["x"], "output": "blocks_0_linear1",
                                 "params": {"weight": "blocks.0.linear1.weight", "bias": "blocks.0.linear1.bias"}})
        ops = [(n["op"], n.get("name")) for n in manifest["nodes"]]
        self.assertIn(("batchnorm", "blocks.0.shortcut.1"), ops)
        self.assertIn(("identity", "blocks.1.shortcut"), ops)
        self.assertEqual(ops[-1], ("linear", "head"))
        self.assertEqual(manifest["outputs"], [manifest["nodes"][-1]["output"]])
        self.assertEqual(manifest["nodes"][1]["attrs"], {"eps": 1e-5})
        self.assertLess((got - expected.double()).abs().max().item(), 1e-5)

    def test_maps_every_spelling_of_the_supported_functions(self):
        manifest, got, expected = self.export_and_run(AllActivations().eval())
        attrs = [n["attrs"] for n in manifest["nodes"] if n["op"] == "activation"]
        self.assertEqual(attrs[:3], [{"fn": "leaky_relu", "negative_slope": 0.2}, {"fn": "relu"},
                                     {"fn": "gelu", "approximate": "tanh"}])
        self.assertEqual({a["fn"] for a in attrs}, {"relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh"})
        self.assertEqual([n["op"] for n in manifest["nodes"]].count("add"), 4)
        self.assertIn("flatten", [n["op"] for n in manifest["nodes"]])
        self.assertLess((got - expected.double()).abs().max().item(), 1e-5)

    def test_the_order_of_forward_not_of_registration(self):
        class Reordered(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = nn.Linear(4, 2)
                self.block = ResidualBlock(4, 8, 4)

            def forward(self, x):
                return self.head(self.block(x))

        manifest, got, expected = self.export_and_run(Reordered().eval())
        self.assertEqual(manifest["nodes"][0]["name"], "block.linear1")
        self.assertLess((got - expected.double()).abs().max().item(), 1e-5)

    def test_a_bare_linear_and_a_linear_subclass_are_traced_to_f_linear_on_their_parameters(self):
        class MyLinear(nn.Linear):
            pass

        manifest, got, expected = self.export_and_run(nn.Linear(4, 2).eval())
        self.assertEqual(manifest["nodes"][0]["params"], {"weight": "weight", "bias": "bias"})
        self.assertLess((got - expected.double()).abs().max().item(), 1e-5)
        manifest, got, expected = self.export_and_run(nn.Sequential(MyLinear(4, 3, bias=False), nn.ReLU()).eval())
        self.assertEqual((manifest["nodes"][0]["name"], manifest["nodes"][0]["params"]), ("0", {"weight": "0.weight"}))
        self.assertLess((got - expected.double()).abs().max().item(), 1e-5)

    def test_refuses_an_unsupported_module_by_path_and_type(self):
        class Conv(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Linear(8, 8)
                self.conv = nn.Conv1d(1, 1, 3, padding=1)

            def forward(self, x):
                return self.conv(self.stem(x).unsqueeze(1)).flatten(1)

        self.assert_refused(Conv().eval(), r"unsqueeze \(Tensor\.unsqueeze\) has no resgpu equivalent; export the "
                                           r"model with torch\.onnx\.export")
        self.assert_refused(nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1)).eval(),
                            r"^1 \(Softmax\) has no resgpu equivalent; export the model with torch\.onnx\.export and "
                            r"load the \.onnx, or use a supported equivalent: Linear")

    def test_refuses_a_custom_function_saying_which_module_it_sits_in(self):
        class Scaled(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(4, 4)

            def forward(self, x):
                return torch.exp(self.linear(x)) * 2

        self.assert_refused(nn.Sequential(nn.Linear(4, 4), Scaled()).eval(), r"^exp \(torch\.exp in 1\) has no resgpu")

    def test_refuses_a_parameter_read_directly_and_a_function_with_constants(self):
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear, self.scale = nn.Linear(4, 4), nn.Parameter(torch.ones(4))

            def forward(self, x):
                return self.linear(x) + self.scale

        self.assert_refused(Scale().eval(), r"add \(operator\.add\) reads the tensor scale directly")
        self.assert_refused(nn.Sequential(nn.Linear(4, 4), nn.Hardtanh()).eval(), r"1 \(Hardtanh\)")

    def test_refuses_layernorm_over_more_than_the_last_dimension(self):
        self.assert_refused(nn.Sequential(nn.LayerNorm([3, 4]), nn.Flatten(), nn.Linear(12, 2)).eval(),
                            r"^0 \(LayerNorm\) normalizes over \[3, 4\] of \[3, 4\] rows; resgpu's layernorm normalizes "
                            r"over the last dimension only", input_shape=[3, 4])

    def test_refuses_batchnorm_without_running_statistics(self):
        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, track_running_stats=False)).eval()
        self.assert_refused(model, r"^1 \(BatchNorm1d\) has no running statistics \(track_running_stats=False\)")

    def test_refuses_what_the_manifest_cannot_say(self):
        shared = nn.Linear(4, 4)
        self.assert_refused(nn.Sequential(shared, nn.ReLU(), shared).eval(), r"uses 0\.weight, already used by 0 \(Linear\)")
        self.assert_refused(TwoInputs().eval(), r"forward\(\) takes 2 inputs \(x, mask\)")
        self.assert_refused(TwoOutputs().eval(), r"forward\(\) returns a tuple")
        self.assert_refused(Branchy().eval(), r"torch\.fx cannot trace Branchy\.forward .*export the model with torch\.onnx")
        self.assert_refused(Mismatched().eval(), r"adds \[4\] and \[3\] rows; resgpu adds values of the same shape")
        dropout = nn.Sequential(nn.Linear(4, 4), Lambda(lambda x: F.dropout(x, 0.5)))
        self.assert_refused(dropout.eval(), r"drops values even in eval mode \(training=True\)")

    def test_refuses_what_forward_does_beyond_the_traced_graph(self):
        model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
        model[2].register_forward_hook(lambda m, i, out: out * 2)  # fx does not run hooks
        self.assert_refused(model, r"does not compute what the model's forward\(\) does in float64 \(they differ by")

    def test_input_shape(self):
        model = nn.Sequential(nn.Flatten(), nn.Linear(24, 5), nn.ReLU(), nn.Linear(5, 2)).eval()
        manifest, got, expected = self.export_and_run(model, input_shape=[2, 3, 4])
        self.assertEqual(manifest["inputs"][0]["shape"], [2, 3, 4])
        self.assertEqual(manifest["nodes"][0], {"op": "flatten", "name": "0", "inputs": ["input_1"], "output": "_0"})
        self.assertLess((got - expected.double()).abs().max().item(), 1e-5)
        self.assert_refused(model, r"^1 \(Linear\) takes \[24\] rows but receives \[30\]", input_shape=[2, 3, 5])
        self.assert_refused(nn.Linear(4, 2), r"input_shape \[0\] must be one or more positive sizes", input_shape=[0])

    def test_cli_input_shape_and_its_usage_error(self):
        pth = os.path.join(self.dir.name, "whole.pth")
        torch.save(ResidualMLP(3, [(8, 8)], out_features=2).eval(), pth)
        run = lambda *args: subprocess.run([sys.executable, os.path.join(TOOLS, "export_resgpu.py"), pth, self.path, *args],
                                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": TOOLS})
        ok = run("--input-shape", "3", "--labels", "no,yes")
        self.assertEqual((ok.returncode, ok.stderr), (0, ""))
        manifest, _ = read_safetensors(self.path)
        self.assertEqual((manifest["inputs"][0]["shape"], manifest["labels"]), ([3], ["no", "yes"]))
        bad = run("--input-shape", "3,x")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("'3,x' is not a shape", bad.stderr)
        wrong = run("--input-shape", "4")
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("blocks.0.linear1 (Linear) takes [3] rows but receives [4]", wrong.stderr)

    def test_warns_when_the_model_is_in_training_mode(self):
        model = ResidualMLP(4, [(8, 4)], 2).train()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            export_model(model, self.path)
        self.assertTrue(any("training mode" in str(w.message) for w in caught))
        self.assertTrue(model.training, "exporting must not switch the user's model to eval")

    def test_dtype_features_and_labels(self):
        model = make_family("gelu_ln")
        export_model(model, self.path, dtype="float16", features=[f"f{i}" for i in range(D_IN)], labels=["a", "b", "c"])
        manifest, tensors = read_safetensors(self.path)
        self.assertEqual({t.dtype for t in tensors.values()}, {torch.float16})
        self.assertEqual((len(manifest["features"]), manifest["labels"]), (D_IN, ["a", "b", "c"]))
        self.assert_refused(model, "2 labels given, but the model has 3", labels=["a", "b"])

    def test_golden_vectors_are_the_stored_models_outputs(self):
        # Recorded by default: 8 rows drawn from N(0, 1), seed 0, and the outputs of the model as
        # stored (float16 here: the weights rounded), so the self-test checks the file, not the export.
        model = make_family("rtdl")
        manifest = export_model(model, self.path, dtype="float16")
        golden = manifest["golden"]
        self.assertEqual((len(golden["inputs"]), len(golden["outputs"]), len(golden["outputs_f32"])), (8, 8, 8))
        self.assertRegex(golden["source"], r"^resgpu exporter, torch .*, inputs N\(0, 1\) seed 0$")
        _, tensors = read_safetensors(self.path)
        x = torch.tensor(golden["inputs"], dtype=torch.float64)
        with torch.no_grad():
            got = run_manifest(manifest, {k: t.double() for k, t in tensors.items()}, x)
        self.assertLess((got - torch.tensor(golden["outputs"], dtype=torch.float64)).abs().max().item(), 1e-9)
        given = torch.randn(3, D_IN)
        self.assertEqual(len(export_model(model, self.path, golden_inputs=given)["golden"]["inputs"]), 3)
        self.assertNotIn("golden", export_model(model, self.path, golden_rows=0))
        self.assert_refused(model, r"golden_inputs must be \[1..64, 13\]", golden_inputs=torch.randn(2, 5))

    def test_the_interpreter_keeps_pytorchs_nan_and_inf_semantics(self):
        # The values resgpu's kernels must reproduce: gelu(-inf) and silu(-inf) are NaN in torch.
        x = torch.tensor([math.nan, math.inf, -math.inf, -100.0, -3.0, 0.0, 2.5], dtype=torch.float64)
        torch_fns = {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "gelu": F.gelu, "silu": F.silu,
                     "sigmoid": torch.sigmoid, "tanh": torch.tanh}
        for fn, reference in torch_fns.items():
            with self.subTest(fn=fn):
                torch.testing.assert_close(ACTIVATIONS[fn](x, {}), reference(x), equal_nan=True)
        tanh_gelu = ACTIVATIONS["gelu"](x, {"approximate": "tanh"})
        torch.testing.assert_close(tanh_gelu, F.gelu(x, approximate="tanh"), equal_nan=True)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x, mask):
        return self.linear(x) + mask


class TwoOutputs(TwoInputs):
    def forward(self, x):
        y = self.linear(x)
        return y, torch.relu(y)


class Branchy(TwoInputs):
    def forward(self, x):
        return self.linear(x) if x.sum() > 0 else x


class Mismatched(TwoInputs):
    def __init__(self):
        super().__init__()
        self.other = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x) + self.other(x)


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class FamilyCasesTest(unittest.TestCase):
    def test_make_family_cases_writes_every_file_and_case(self):
        from make_family_cases import main
        with tempfile.TemporaryDirectory() as out:
            main(out)
            with open(os.path.join(out, "cases.json")) as f:
                cases = json.load(f)
            self.assertEqual([c["name"] for c in cases["families"]], list(FAMILIES))
            for case in cases["families"]:
                files = [case["files"]["pt"], case["files"]["safetensors"], *case["files"]["onnx"].values()]
                self.assertTrue(all(os.path.getsize(os.path.join(out, p)) > 0 for p in files), case["name"])
                self.assertEqual(len(case["inputs"]["float64"]), case["inputs"]["rows"] * case["output_size"])
            self.assertEqual(cases["onnx_patterns"]["layernorm"]["17"]["ops"], ["LayerNormalization"])
            self.assertEqual(cases["onnx_patterns"]["silu"]["13"]["ops"], ["Sigmoid", "Mul"])


if __name__ == "__main__":
    unittest.main()
