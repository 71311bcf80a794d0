"""tools/export_resgpu.py on image models, against real PyTorch and torchvision: what it writes for
torchvision's ResNets (manifest v2 with conv2d, maxpool2d, global_avgpool, checked here by running
the written file with the manifest's float64 interpreter against the model), the pooling and
convolution options it maps, and what it refuses, by name, leaving no file."""
import os
import sys
import tempfile
import unittest

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, HERE)
from export_resgpu import ExportError, export_model  # noqa: E402
from resgpu_manifest import run_manifest  # noqa: E402
from test_exporter import read_safetensors  # noqa: E402


class ImageExportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "m.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def export_and_compare(self, model, shape):
        """Exports, reads the file back, runs it in float64 beside the model: returns the manifest."""
        model = model.eval()
        export_model(model, self.path, input_shape=shape)
        manifest, tensors = read_safetensors(self.path)
        x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            got = run_manifest(manifest, {k: t.double() for k, t in tensors.items()}, x.double())
            expected = model(x)
        self.assertLess((got - expected.double()).abs().max().item(), 1e-4 * max(1.0, expected.abs().max().item()))
        return manifest

    def assert_refused(self, model, pattern, shape):
        with self.assertRaisesRegex(ExportError, pattern):
            export_model(model.eval(), self.path, input_shape=shape)
        self.assertFalse(os.path.exists(self.path), "a refused model must leave no file")

    def test_torchvision_resnets_export_with_their_module_names(self):
        for block, width in ((BasicBlock, 64), (Bottleneck, 16)):  # BasicBlock takes base width 64 only
            with self.subTest(block=block.__name__):
                manifest = self.export_and_compare(ResNet(block, [1, 1, 1, 1], num_classes=3, width_per_group=width), [3, 32, 32])
                ops = [(n["op"], n.get("name")) for n in manifest["nodes"]]
                self.assertEqual(ops[:4], [("conv2d", "conv1"), ("batchnorm", "bn1"), ("activation", "relu"), ("maxpool2d", "maxpool")])
                self.assertEqual(ops[-3:], [("global_avgpool", "avgpool"), ("flatten", None), ("linear", "fc")])
                self.assertEqual(manifest["nodes"][0]["attrs"], {"stride": [2, 2], "padding": [3, 3], "dilation": [1, 1]})
                self.assertIn(("conv2d", "layer2.0.downsample.0"), ops)

    def test_pooling_and_convolution_options(self):
        model = nn.Sequential(nn.Conv2d(2, 3, 3, padding="same", dilation=2, bias=False), nn.AvgPool2d(3, 2, 1, ceil_mode=True),
                              nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(2, 1, 1, count_include_pad=False),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten())
        manifest = self.export_and_compare(model, [2, 11, 9])
        self.assertEqual(manifest["nodes"][0]["attrs"]["padding"], [2, 2])
        self.assertEqual(manifest["nodes"][1]["attrs"], {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True,
                                                         "count_include_pad": True})
        self.assertEqual(manifest["nodes"][2]["attrs"]["stride"], [2, 2])  # a pool's stride defaults to its kernel

    def test_refusals_name_the_module(self):
        self.assert_refused(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), r"pass their row shape, input_shape=\[C, H, W\]", None)
        self.assert_refused(nn.Sequential(nn.Conv2d(4, 4, 3, groups=4)), r"0 \(Conv2d\) has groups=4 \(a grouped or depthwise", [4, 8, 8])
        self.assert_refused(nn.Sequential(nn.Conv2d(4, 4, 3, padding_mode="reflect")), r"pads with 'reflect'", [4, 8, 8])
        self.assert_refused(nn.Sequential(nn.Conv2d(4, 4, 2, padding="same")), r"padding='same' with an even kernel", [4, 8, 8])
        self.assert_refused(nn.Sequential(nn.AdaptiveAvgPool2d(2)), r"pools adaptively to 1×1 only", [4, 8, 8])
        self.assert_refused(nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), r"overrides its divisor", [4, 8, 8])
        self.assert_refused(nn.Sequential(nn.Conv2d(4, 4, 9)), r"kernel spans 9 pixels, more than the 8", [4, 8, 8])
        self.assert_refused(nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Conv2d(4, 4, 1)), r"receives \[4\] rows; it needs images", [4, 1, 1])

    def test_preprocess_recorded_for_image_inputs_and_refused_where_wrong(self):
        small = nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
        export_model(small, self.path, input_shape=[3, 8, 6], preprocess="imagenet")
        manifest, _ = read_safetensors(self.path)
        self.assertEqual(manifest["preprocess"], {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "size": [8, 6], "color": "rgb"})
        gray = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
        export_model(gray, self.path, input_shape=[1, 5, 5], preprocess={"mean": [0.1307], "std": [0.3081]})
        self.assertEqual(read_safetensors(self.path)[0]["preprocess"], {"mean": [0.1307], "std": [0.3081], "size": [5, 5], "color": "gray"})
        os.remove(self.path)
        for model, shape, given, pattern in (
            (small, [3, 8, 6], {"mean": [0.5, 0.5], "std": [1, 1, 1]}, r"image mean \[0\.5, 0\.5\] must be 3 finite numbers"),
            (small, [3, 8, 6], {"mean": [0, 0, 0], "std": [1, 0, 1]}, r"image std .* must be 3 finite positive numbers"),
            (small, [3, 8, 6], {"mean": [0, float("nan"), 0], "std": [1, 1, 1]}, r"image mean"),
            (small, [3, 8, 6], {"mean": [0, 0, 0]}, r'"imagenet" or \{"mean"'),
            (gray, [1, 5, 5], "imagenet", r"ImageNet statistics are for 3 channels"),
            (nn.Sequential(nn.Linear(4, 2)).eval(), [4], "imagenet", r"for an image input \[1 or 3, H, W\]; this model's input is \[4\]"),
        ):
            with self.subTest(given=given):
                with self.assertRaisesRegex(ExportError, pattern):
                    export_model(model, self.path, input_shape=shape, preprocess=given)
                self.assertFalse(os.path.exists(self.path), "a refused model must leave no file")


if __name__ == "__main__":
    unittest.main()
