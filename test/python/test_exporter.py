"""tools/export_resgpu.py against real PyTorch: what it refuses and warns about.
(What it writes is checked for parity with PyTorch by test/pytorch.node.test.ts.)"""
import json
import os
import struct
import sys
import tempfile
import unittest
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from export_resgpu import ExportError, export_model  # noqa: E402
from residual_mlp import ResidualBlock, ResidualMLP  # noqa: E402


def read_manifest(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(json.loads(f.read(n))["__metadata__"]["resgpu.graph"])


class ExporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "m.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def test_writes_the_manifest_of_a_sequential_stack(self):
        model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(),
                              ResidualBlock(16, 32, 16), ResidualBlock(16, 8, 4), nn.Linear(4, 2)).eval()
        export_model(model, self.path)
        m = read_manifest(self.path)
        self.assertEqual(m["input"], 8)
        self.assertEqual(m["layers"][0], {"type": "linear", "linear": "0", "bn": "1", "activation": "relu"})
        self.assertEqual([l["type"] for l in m["layers"]], ["linear", "residual_block", "residual_block", "linear"])
        self.assertIsNone(m["layers"][1]["shortcut"])
        self.assertEqual(m["layers"][2]["shortcut"], "5.shortcut.0")
        self.assertEqual(m["layers"][2]["shortcut_bn"], "5.shortcut.1")

    def test_refuses_layers_it_cannot_express_by_name(self):
        model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)).eval()
        with self.assertRaisesRegex(ExportError, r"^1 \(LayerNorm\) cannot be expressed"):
            export_model(model, self.path)
        self.assertFalse(os.path.exists(self.path))

    def test_refuses_an_activation_it_does_not_run(self):
        model = nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 2)).eval()
        with self.assertRaisesRegex(ExportError, r"1 \(GELU\)"):
            export_model(model, self.path)

    def test_warns_when_the_model_is_in_training_mode(self):
        model = ResidualMLP(4, [(8, 4)], 2).train()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            export_model(model, self.path)
        self.assertTrue(any("training mode" in str(w.message) for w in caught))
        self.assertTrue(model.training, "exporting must not switch the user's model to eval")

    def test_refuses_when_registration_order_is_not_forward_order(self):
        class Reordered(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = nn.Linear(4, 4)
                self.block = ResidualBlock(4, 8, 4)

            def forward(self, x):
                return self.head(self.block(x))

        with self.assertRaisesRegex(ExportError, "does not compute what the model's forward"):
            export_model(Reordered().eval(), self.path)

    def test_refuses_batchnorm_without_running_statistics(self):
        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, track_running_stats=False)).eval()
        with self.assertRaisesRegex(ExportError, "track_running_stats=False"):
            export_model(model, self.path)


if __name__ == "__main__":
    unittest.main()
