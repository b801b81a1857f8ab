"""Segmentation networks with a class head and an affinity-embedding head, in plain torch.

Both networks map an image ``(B, C, H, W)`` to a :class:`NetworkOutput` at full input
resolution: class logits Q, a pixel embedding E whose cosine similarities are affinities,
and optionally auxiliary logits from a coarser level.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..settings import NETWORKS, NORMS


@dataclass
class NetworkOutput:
    """What a network returns.

    Attributes
    ----------
    logits : torch.Tensor
        ``(B, K, H, W)`` class logits Q.
    embedding : torch.Tensor
        ``(B, D, H, W)`` raw embedding E (made unit and non-negative by
        :func:`jcas.nn.affinity.unit_embedding`).
    aux_logits : torch.Tensor or None
        ``(B, K, h, w)`` logits of the auxiliary level, or ``None``.
    """

    logits: torch.Tensor
    embedding: torch.Tensor
    aux_logits: torch.Tensor | None


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"unknown normalisation {kind!r}; choose one of {', '.join(NORMS)}")


def _conv_block(in_channels: int, out_channels: int, dilation: int = 1, norm: str = "batch") -> nn.Sequential:
    """Two 3x3 convolutions, each normalised and rectified.

    Batch statistics by default, not GroupNorm's per-image ones: GroupNorm normalises over the
    whole input frame, so a pixel's prediction changed with the crop or the background around
    it (docs/method.md, "Frame"). In eval mode BatchNorm applies fixed running statistics, so
    the output at a pixel depends only on its receptive field.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
        _norm(norm, out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
        _norm(norm, out_channels),
        nn.ReLU(inplace=True),
    )


class Heads(nn.Module):
    """Class, embedding and auxiliary heads shared by both networks."""

    def __init__(self, features: int, aux_features: int, num_classes: int, embedding_dim: int, aux: bool):
        super().__init__()
        self.classes = nn.Conv2d(features, num_classes, 1)
        self.embedding = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(features, embedding_dim, 1)
        )
        self.aux = nn.Conv2d(aux_features, num_classes, 1) if aux else None

    def forward(self, features: torch.Tensor, aux_features: torch.Tensor) -> NetworkOutput:
        aux_logits = self.aux(aux_features) if self.aux is not None else None
        return NetworkOutput(self.classes(features), self.embedding(features), aux_logits)


class UNet(nn.Module):
    """A small U-Net (default; fast on two CPU cores).

    Parameters
    ----------
    in_channels, num_classes : int
        Image channels and classes K.
    width : int
        Channels of the first level; doubled at each of the ``depth`` downsamplings.
    depth : int
        Number of 2x downsamplings; inputs are padded to a multiple of ``2**depth``.
    embedding_dim : int
        Channels D of the affinity embedding.
    aux : bool
        Add auxiliary logits from the bottleneck.
    norm : {"batch", "group"}
        Normalisation of the convolution blocks.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, depth: int = 3,
                 embedding_dim: int = 16, aux: bool = True, norm: str = "batch"):
        super().__init__()
        widths = [width * 2**level for level in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList([_conv_block(in_channels, widths[0], norm=norm)])
        self.down.extend(_conv_block(widths[i], widths[i + 1], norm=norm) for i in range(depth))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
        )
        self.merge = nn.ModuleList(_conv_block(2 * widths[i], widths[i], norm=norm) for i in reversed(range(depth)))
        self.heads = Heads(widths[0], widths[-1], num_classes, embedding_dim, aux)

    def forward(self, image: torch.Tensor) -> NetworkOutput:
        height, width = image.shape[-2:]
        multiple = 2**self.depth
        x = F.pad(image, (0, -width % multiple, 0, -height % multiple), mode="replicate")
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        bottleneck = x
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([up(x), skip], dim=1))
        out = self.heads(x, bottleneck)
        out.logits = out.logits[..., :height, :width]
        out.embedding = out.embedding[..., :height, :width]
        return out


class _Bottleneck(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int, dilation: int):
        super().__init__()
        out_channels = channels * 4
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
        )
        self.shortcut = (
            nn.Identity() if stride == 1 and in_channels == out_channels
            else nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                               nn.BatchNorm2d(out_channels))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class DeepLab(nn.Module):
    """A DeepLab-style dilated ResNet with an ASPP head (larger; for GPU users).

    Output stride 8: stages 3 and 4 use dilation 2 and 4 instead of striding; ASPP with
    rates 6, 12, 18; class and embedding heads on the upsampled stride-4 decoder features.
    ``blocks`` gives the bottleneck count per stage ((3, 4, 6, 3) is ResNet-50's).
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, blocks: tuple[int, ...] = (2, 2, 3, 2),
                 embedding_dim: int = 32, aux: bool = True):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, channels = [], width
        for index, (count, stride, dilation) in enumerate(zip(blocks, (1, 2, 1, 1), (1, 1, 2, 4))):
            planes = width * 2**index
            layers = [_Bottleneck(channels, planes, stride, dilation)]
            layers += [_Bottleneck(planes * 4, planes, 1, dilation) for _ in range(count - 1)]
            stages.append(nn.Sequential(*layers))
            channels = planes * 4
        self.stages = nn.ModuleList(stages)
        aspp_channels = 4 * width
        self.aspp = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, aspp_channels, 3 if rate else 1, padding=rate, dilation=rate or 1,
                                    bias=False), nn.BatchNorm2d(aspp_channels), nn.ReLU(inplace=True))
            for rate in (0, 6, 12, 18)
        )
        self.project = nn.Sequential(nn.Conv2d(4 * aspp_channels, aspp_channels, 1, bias=False),
                                     nn.BatchNorm2d(aspp_channels), nn.ReLU(inplace=True))
        low_channels = width * 4
        self.decode = _conv_block(aspp_channels + low_channels, 2 * width)
        self.heads = Heads(2 * width, channels, num_classes, embedding_dim, aux)

    def forward(self, image: torch.Tensor) -> NetworkOutput:
        height, width = image.shape[-2:]
        x = self.stem(image)
        low = x = self.stages[0](x)
        for stage in self.stages[1:]:
            x = stage(x)
        deep = x
        context = self.project(torch.cat([branch(x) for branch in self.aspp], dim=1))
        context = F.interpolate(context, size=low.shape[-2:], mode="bilinear", align_corners=False)
        out = self.heads(self.decode(torch.cat([context, low], dim=1)), deep)
        out.logits = F.interpolate(out.logits, size=(height, width), mode="bilinear", align_corners=False)
        out.embedding = F.interpolate(out.embedding, size=(height, width), mode="bilinear", align_corners=False)
        return out


def build_network(name: str, in_channels: int, num_classes: int, embedding_dim: int = 16,
                  width: int = 16, norm: str = "batch") -> nn.Module:
    """Build a network by name (``"unet"`` or ``"deeplab"``); ``norm`` applies to the U-Net's blocks."""
    if name == "unet":
        return UNet(in_channels, num_classes, width=width, embedding_dim=embedding_dim, norm=norm)
    if name == "deeplab":
        return DeepLab(in_channels, num_classes, width=2 * width, embedding_dim=embedding_dim)
    raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
