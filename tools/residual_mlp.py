"""The PyTorch model family resgpu runs: the seed-style ResidualBlock and a stack of them.

Used by the example's training script and by the tests that make models with real PyTorch.
The state_dict keys it produces (blocks.N.linear1, blocks.N.bn1, blocks.N.shortcut.0, head, ...)
are the ones resgpu infers a graph from.
"""
import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Linear -> BN -> ReLU -> Dropout -> Linear -> BN, plus shortcut, then ReLU."""

    def __init__(self, in_features, hidden, out_features, dropout=0.1, batchnorm=True, projection=None):
        super().__init__()
        self.linear1 = nn.Linear(in_features, hidden)
        self.bn1 = nn.BatchNorm1d(hidden) if batchnorm else nn.Identity()
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden, out_features)
        self.bn2 = nn.BatchNorm1d(out_features) if batchnorm else nn.Identity()
        if projection is None:
            projection = in_features != out_features
        if projection:
            layers = [nn.Linear(in_features, out_features)]
            if batchnorm:
                layers.append(nn.BatchNorm1d(out_features))
            self.shortcut = nn.Sequential(*layers)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.linear1(x)))
        out = self.dropout(out)
        out = self.bn2(self.linear2(out))
        out = out + self.shortcut(x)
        return self.relu(out)


class ResidualMLP(nn.Module):
    """blocks (a Sequential of ResidualBlocks) then an optional linear head."""

    def __init__(self, in_features, widths, out_features=None, dropout=0.1, batchnorm=True):
        """widths: [(hidden, out), ...] per block."""
        super().__init__()
        blocks, width = [], in_features
        for hidden, out in widths:
            blocks.append(ResidualBlock(width, hidden, out, dropout, batchnorm))
            width = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(width, out_features) if out_features else None

    def forward(self, x):
        x = self.blocks(x)
        return self.head(x) if self.head is not None else x


def randomize_batchnorm(model, generator):
    """Gives every BatchNorm non-trivial running statistics and affine parameters, as training would."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.rand(n, generator=generator) - 0.5)
                m.num_batches_tracked.fill_(100)
