"""The loss module: which terms each stage adds, T_C and T_A applied only when corrected, ignore pixels."""
import pytest
import torch

from jcas.data.labels import LabelMap
from jcas.losses.objective import JCASLoss
from jcas.losses.terms import affinity_loss, class_loss, consistency_loss
from jcas.nn.affinity import pair_labels
from jcas.nn.model import JCASModel
from jcas.settings import make_config

CLASSES = 3


@pytest.fixture
def batch():
    """An untrained 3-class JCAS model with T_C and T_A far from the identity, a batch and its labels."""
    torch.manual_seed(0)
    config = make_config("jcas", "fast", width=8, offsets=(1, 2))
    model = JCASModel(config, LabelMap(tuple(range(CLASSES))), 1).eval()
    model.class_transition.set_to(torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]))
    model.affinity_transition.set_to(torch.tensor([[0.7, 0.3], [0.2, 0.8]]))
    images = torch.randn(2, 1, 32, 32)
    labels = torch.randint(0, CLASSES, (2, 32, 32))
    labels[:, :4] = -1  # ignore pixels
    prior = torch.tensor([0.5, 0.3, 0.2])
    return config, model, images, labels, prior


def test_the_warm_up_stage_is_plain_cross_entropy_and_the_pair_loss(batch):
    config, model, images, labels, prior = batch
    loss = JCASLoss.from_config(config)
    with torch.no_grad():
        prediction = model.predict(images)
        terms = loss(model, prediction, labels, corrected=False, prior=prior)
        plain = class_loss(prediction.output.logits, labels, None)
    assert set(terms) == {"class", "aux", "affinity", "total"}
    assert torch.allclose(terms["class"], plain)
    assert torch.allclose(terms["total"], terms["class"] + terms["aux"] + terms["affinity"])


def test_the_corrected_stage_applies_the_models_t_c_and_t_a(batch):
    config, model, images, labels, prior = batch
    loss = JCASLoss.from_config(config)
    with torch.no_grad():
        prediction = model.predict(images)
        terms = loss(model, prediction, labels, corrected=True, prior=prior)
        class_t, affinity_t = model.class_transition(), model.affinity_transition()
        expected_class = class_loss(prediction.output.logits, labels, class_t)
        total, count = torch.zeros(()), torch.zeros(())
        for s in range(len(prediction.pairs.shifts)):  # offset by offset, as the paper writes it
            same, valid = (part[:, s] for part in pair_labels(labels, prediction.pairs.shifts))
            value, counted = affinity_loss(prediction.pairs.affinity[:, s], same, valid, affinity_t)
            total, count = total + value, count + counted
        uncorrected = loss(model, prediction, labels, corrected=False, prior=prior)
    assert set(terms) == {"class", "aux", "affinity", "volume", "consistency", "total"}
    assert torch.allclose(terms["class"], expected_class)
    assert not torch.allclose(terms["class"], uncorrected["class"])  # T_C is far from the identity
    assert torch.allclose(terms["affinity"], config.weight_affinity * total / count)
    assert not torch.allclose(terms["affinity"], uncorrected["affinity"])
    assert torch.allclose(terms["consistency"],
                          config.weight_consistency * consistency_loss(class_t, affinity_t, prior))
    assert torch.allclose(terms["total"], sum(value for name, value in terms.items() if name != "total"))


def test_the_loss_owns_its_weights(batch):
    config, model, images, labels, prior = batch
    with torch.no_grad():
        prediction = model.predict(images)
        base = JCASLoss.from_config(config)(model, prediction, labels, True, prior)
        heavier = JCASLoss.from_config(make_config("jcas", "fast", width=8, offsets=(1, 2), weight_affinity=3.0,
                                                   weight_consistency=0.5))(model, prediction, labels, True, prior)
    assert torch.allclose(heavier["affinity"], 3.0 * base["affinity"] / config.weight_affinity)
    assert torch.allclose(heavier["consistency"], 0.5 * base["consistency"] / config.weight_consistency)
    assert torch.allclose(heavier["class"], base["class"])


@pytest.mark.parametrize("corrected", [False, True])
def test_ignore_pixels_teach_nothing(batch, corrected):
    """Whatever the network predicts at ignored pixels, no term of either stage changes."""
    config, model, images, labels, prior = batch
    loss = JCASLoss.from_config(config)
    with torch.no_grad():
        prediction = model.predict(images)
        before = loss(model, prediction, labels, corrected, prior)
        ignored = (labels < 0)[:, None]
        prediction.output.logits.copy_(torch.where(ignored, 10 * torch.randn_like(prediction.output.logits),
                                                   prediction.output.logits))
        unit = prediction.unit
        prediction.unit.copy_(torch.where(ignored, torch.rand_like(unit), unit))
        del prediction.__dict__["pairs"]  # the cached pair affinities, from the new embeddings
        after = loss(model, prediction, labels, corrected, prior)
    for name in ("class", "affinity"):
        assert torch.allclose(before[name], after[name], atol=1e-6), name


@pytest.mark.parametrize("corrected", [False, True])
def test_a_batch_with_no_labelled_pixel_teaches_nothing_and_stays_finite(batch, corrected):
    """Crops that fall wholly inside an unlabelled area once made a run diverge (NaN)."""
    config, model, images, labels, prior = batch
    terms = JCASLoss.from_config(config)(model, model.predict(images), torch.full_like(labels, -1), corrected, prior)
    assert all(torch.isfinite(value) for value in terms.values())
    for name in ("class", "aux", "affinity"):
        assert terms[name].item() == 0.0, name
    terms["total"].backward()  # and a step on it is harmless


def test_trusted_labels_train_as_clean_labels_in_the_corrected_stage(batch):
    """Pixels a person confirmed get no transition matrix: all trusted is the warm-up's uncorrected
    class and pair terms, none trusted the corrected ones, and a mix weighs both by their pixels."""
    config, model, images, labels, prior = batch
    loss = JCASLoss.from_config(config)
    with torch.no_grad():
        prediction = model.predict(images)
        plain = loss(model, prediction, labels, False, prior)
        corrected = loss(model, prediction, labels, True, prior)
        everywhere = loss(model, prediction, labels, True, prior, torch.ones_like(labels, dtype=torch.bool))
        nowhere = loss(model, prediction, labels, True, prior, torch.zeros_like(labels, dtype=torch.bool))
        left = torch.zeros_like(labels, dtype=torch.bool)
        left[..., :16] = True
        mixed = loss(model, prediction, labels, True, prior, left)
        class_t = model.class_transition()
        logits = prediction.output.logits
        confirmed, drawn = torch.where(left, labels, -1), torch.where(left, -1, labels)
        n_confirmed, n_drawn = (confirmed >= 0).sum(), (drawn >= 0).sum()
        expected = (class_loss(logits, confirmed) * n_confirmed
                    + class_loss(logits, drawn, class_t) * n_drawn) / (n_confirmed + n_drawn)
    for name in ("class", "affinity"):
        assert torch.allclose(everywhere[name], plain[name]), name
        assert torch.allclose(nowhere[name], corrected[name]), name
    assert torch.allclose(mixed["class"], expected)
    assert not torch.allclose(mixed["affinity"], plain["affinity"])
    assert not torch.allclose(mixed["affinity"], corrected["affinity"])
