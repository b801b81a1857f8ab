"""The moving average of a network's weights that training can judge and keep."""
import math

import pytest
import torch
from torch import nn

from jcas.training.averaging import WeightAverage


def _network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


def test_the_average_follows_the_weights_step_by_step_with_the_decay_of_its_time_constant():
    network = _network()
    average = WeightAverage(network, epochs=2, steps_per_epoch=50)
    assert average.decay == pytest.approx(math.exp(-1 / 100))
    expected = {name: value.clone() for name, value in network.state_dict().items() if value.is_floating_point()}
    for t in range(1, 41):
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.add_(0.1)
        network(torch.randn(2, 1, 8, 8))  # training mode: the batch-norm statistics move too
        decay = min(average.decay, (1 + t) / (10 + t))
        for name, value in network.state_dict().items():
            if name in expected:
                expected[name] = decay * expected[name] + (1 - decay) * value
        average.update(network)
    own = {name: value.clone() for name, value in network.state_dict().items()}
    with average.applied(network):
        for name, value in network.state_dict().items():
            if name in expected:
                assert torch.allclose(value, expected[name], atol=1e-5), name
                assert not torch.allclose(value, own[name])  # the average lags the weights
    for name, value in network.state_dict().items():  # its own weights again afterwards
        assert torch.equal(value, own[name]), name
    assert "1.num_batches_tracked" not in average.names  # counts are not averaged


def test_an_average_needs_a_time_constant():
    with pytest.raises(ValueError, match="epochs > 0"):
        WeightAverage(_network(), epochs=0, steps_per_epoch=10)
