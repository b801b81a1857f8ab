"""An exponential moving average of a network's weights, to judge and keep in place of the last step's.

Averaging the weights over the last few epochs smooths the step-to-step swings that noisy labels cause,
at the cost of one copy of the weights and one in-place update per step.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """The running average of ``module``'s floating-point weights and buffers (batch-norm statistics).

    Parameters
    ----------
    module : torch.nn.Module
        The network whose weights are averaged; its tensors are read at every :meth:`update`.
    epochs : float
        The average's time constant in epochs (> 0): a step's weight decays by ``e`` over that many epochs.
    steps_per_epoch : int
        Optimisation steps per epoch, to turn ``epochs`` into a per-step decay.

    Notes
    -----
    The first steps get more weight (the decay is at most ``(1 + t) / (10 + t)`` after ``t`` updates), so the
    average does not drag the initial weights along.
    """

    def __init__(self, module: nn.Module, epochs: float, steps_per_epoch: int):
        if epochs <= 0 or steps_per_epoch < 1:
            raise ValueError(f"a weight average needs epochs > 0 and a step per epoch, got {epochs}, {steps_per_epoch}")
        self.decay = math.exp(-1.0 / (epochs * steps_per_epoch))
        self.updates = 0
        self.names = [name for name, value in module.state_dict().items() if value.is_floating_point()]
        self.average = [value.detach().clone() for name, value in module.state_dict().items() if name in self.names]

    def _current(self, module: nn.Module) -> list[torch.Tensor]:
        state = module.state_dict()
        return [state[name] for name in self.names]

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average towards ``module``'s weights after one optimisation step."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.average, self._current(module), 1 - decay)

    @contextmanager
    @torch.no_grad()
    def applied(self, module: nn.Module) -> Iterator[None]:
        """``module`` holds the averaged weights inside the ``with`` block, its own again after it."""
        current = self._current(module)
        own = [value.clone() for value in current]
        torch._foreach_copy_(current, self.average)
        try:
            yield
        finally:
            torch._foreach_copy_(current, own)
