import numpy as np
import pytest
import torch

from jcas import correct
from jcas.data.labels import typical_areas
from jcas.errors import JCASInputError
from jcas.nn.checkpoint import load_checkpoint
from jcas.settings import make_config
from jcas.training.trainer import Trainer, available_devices

from helpers import tiny_config


def first_losses(images, masks, steps=3, **overrides):
    trainer = Trainer(images, masks, tiny_config(**overrides))
    run = trainer.run()
    losses = [next(run).losses["total"] for _ in range(steps)]
    run.close()
    return losses


def test_training_is_reproducible_on_cpu(mni):
    images, masks = mni[0][:2], mni[1][:2]
    assert first_losses([images], [masks]) == first_losses([images], [masks])
    assert first_losses([images], [masks]) != first_losses([images], [masks], seed=1)


def test_events_cover_both_stages_with_transition_matrices(odd_labels):
    images, masks = odd_labels
    trainer = Trainer([images[:2]], [masks[:2]], tiny_config())
    events = list(trainer.run())
    steps = trainer.steps_per_epoch
    assert [e.stage for e in events] == ["warmup"] * steps + ["jcas"] * steps
    assert events[-1].global_step == events[-1].total_steps == 2 * steps
    last = events[-1]
    assert last.class_transition.shape == (3, 3) and last.affinity_transition.shape == (2, 2)
    assert np.allclose(last.class_transition.sum(axis=1), 1, atol=1e-5)
    assert {"class", "affinity", "volume", "consistency", "total"} <= set(last.losses)
    assert events[0].class_transition is None
    assert trainer.label_map.values == (0, 3, 7)


def test_dar_is_off_by_default_and_on_in_jcas_dar(mni):
    """DAR made cleaning fall at 3x the schedule (docs/method.md), so only "jcas_dar" rectifies."""
    for method, has_dar in (("jcas", False), ("jcas_dar", True)):
        trainer = Trainer([mni[0][:2]], [mni[1][:2]], tiny_config(method))
        images = torch.zeros(1, 1, 48, 48, device=trainer.device)
        assert (trainer.model.members[0].predict(images).rectified is not None) is has_dar
        events = list(trainer.run())
        assert ("class_dar" in events[-1].losses) is has_dar


def test_plain_baseline_has_one_stage_and_no_affinity(mni):
    trainer = Trainer([mni[0][:2]], [mni[1][:2]], tiny_config("ce"))
    events = list(trainer.run())
    assert {e.stage for e in events} == {"ce"}
    assert set(events[-1].losses) == {"class", "aux", "total"}


def test_closing_keeps_the_last_completed_model(mni):
    trainer = Trainer([mni[0][:2]], [mni[1][:2]], tiny_config())
    initial = [p.detach().clone() for p in trainer.model.parameters()]
    run = trainer.run()
    next(run)
    after_one = [p.detach().clone() for p in trainer.model.parameters()]
    run.close()
    assert not trainer.model.training
    assert any(not torch.equal(a, b) for a, b in zip(initial, after_one))
    assert all(torch.equal(a, b) for a, b in zip(after_one, trainer.model.parameters()))


def test_mixed_sizes_rgb_and_stacks_train(mni, cells):
    small = mni[0][0, :100, :90], mni[1][0, :100, :90]
    stack = cells[0][:2], cells[1][:2]
    trainer = Trainer([small[0], stack[0]], [small[1], stack[1]], tiny_config(crop=64))
    assert len(list(trainer.run())) == trainer.total_steps
    rgb = np.repeat(mni[0][0][..., None], 3, axis=-1)
    rgb_trainer = Trainer([rgb], [mni[1][0]], tiny_config())
    assert rgb_trainer.model.in_channels == 3
    next(rgb_trainer.run())


def test_global_affinity_with_exact_and_sampled_pairs_train(mni):
    for samples in (0, 256):
        trainer = Trainer([mni[0][:2]], [mni[1][:2]], tiny_config(affinity="global", grid=16, pair_samples=samples))
        assert np.isfinite([e.losses["affinity"] for e in trainer.run()]).all()


def test_bad_training_input_is_refused(mni):
    with pytest.raises(JCASInputError, match="single class"):
        Trainer([mni[0][0]], [np.zeros_like(mni[1][0])], tiny_config())
    with pytest.raises(JCASInputError, match="differ"):
        Trainer([mni[0][0]], [mni[1][0][:-1]], tiny_config())
    with pytest.raises(JCASInputError, match="no training data"):
        Trainer([], [], tiny_config())
    with pytest.raises(JCASInputError, match="unknown method"):
        make_config("magic")


def test_devices_offered_are_present():
    devices = available_devices()
    assert devices[0] == "auto" and devices[-1] == "cpu"
    if not torch.cuda.is_available():
        assert "cuda" not in devices
        with pytest.raises(JCASInputError, match="not available"):
            Trainer([np.zeros((8, 8))], [np.eye(8, dtype=np.uint8)], tiny_config(), device="cuda")


def test_the_larger_network_trains_and_fits_the_data(mni):
    trainer = Trainer([mni[0][:2]], [mni[1][:2]], tiny_config(network="deeplab", crop=64))
    run = trainer.run()
    assert np.isfinite(next(run).losses["total"])
    run.close()
    from jcas import correct

    assert correct(trainer.model, mni[0][0], mni[1][0]).corrected.shape == mni[1][0].shape


def test_warm_up_confusion_starts_the_transition_matrices(mni):
    images, masks = [mni[0][:2]], [mni[1][:2]]
    default = Trainer(images, masks, tiny_config()).model.members[0].class_transition().detach().cpu().numpy()
    trainer = Trainer(images, masks, tiny_config(transition_from_warmup=True))
    first_corrected = next(e for e in trainer.run() if e.class_transition is not None)
    assert not np.allclose(first_corrected.class_transition, default, atol=0.02)
    assert np.allclose(first_corrected.class_transition.sum(axis=1), 1, atol=1e-5)


def test_warm_up_start_estimates_the_true_noise_matrix(mni):
    """The default start of T_C: the warm-up model's confusion with the noisy labels,
    which recovers class-dependent noise that the generic start (every off-diagonal equal) misses."""
    from jcas.data.noise import simulate_noise

    images, clean = mni[0][:4], mni[1][:4]
    noisy, _ = simulate_noise(clean, kind="asymmetric", fraction=0.3, seed=0)  # class i -> i + 1 (mod 3)
    true = np.zeros((3, 3))
    np.add.at(true, (clean.ravel(), noisy.ravel()), 1)
    true /= true.sum(axis=1, keepdims=True)
    config = tiny_config(epochs=16, batch_size=4, crop=96)
    assert config.transition_from_warmup, "the warm-up start is the default"
    trainer = Trainer([images], [noisy], config)
    generic = trainer.model.members[0].class_transition().detach().cpu().numpy()
    start = next(e for e in trainer.run() if e.class_transition is not None).class_transition
    assert np.abs(start - true).sum() < 0.7 * np.abs(generic - true).sum()
    assert start[0, 1] > 2 * start[0, 2] and start[1, 2] > 1.5 * start[1, 0]  # the direction of the flips


def _missed_square_stack():
    """4 slices with two bright squares; the drawn masks mark the left one (1) and miss the right one."""
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.1, (4, 64, 64)).astype(np.float32)
    images[:, 10:30, 8:28] += 1
    images[:, 34:54, 36:56] += 1
    drawn = np.zeros((4, 64, 64), dtype=np.uint8)
    drawn[:, 10:30, 8:28] = 1
    trusted = np.full(drawn.shape, 255, dtype=np.uint8)
    trusted[:, 34:54, 36:56] = 1  # a person confirmed the right square too
    trusted[:, 0:4, :] = 0
    return images, drawn, trusted


@pytest.mark.slow
def test_trusted_labels_override_the_drawn_ones_in_training():
    images, drawn, trusted = _missed_square_stack()
    predicted = {}
    for name, confirmed in (("drawn only", None), ("with trusted", [trusted])):
        # without augmentation: with it the model finds the missed square from the drawn labels alone
        config = tiny_config("jcas", epochs=30, crop=64, batch_size=4, augment=False, flips=False)
        trainer = Trainer([images], [drawn], config, trusted=confirmed)
        list(trainer.run())
        predicted[name] = correct(trainer.model, images, drawn, min_area=1, min_score=0, min_confidence=0).corrected
    right_square = (slice(None), slice(38, 50), slice(40, 52))
    assert (predicted["with trusted"][right_square] == 1).mean() > 0.9
    assert (predicted["drawn only"][right_square] == 1).mean() < 0.5


def test_trusted_labels_that_do_not_fit_the_mask_are_refused():
    images, drawn, trusted = _missed_square_stack()
    unknown_value = np.where(trusted == 1, 9, trusted).astype(np.uint8)
    for bad, message in ((trusted[:, :32], "the trusted labels are"), (unknown_value, r"values \[9\]"),
                         (trusted.astype(np.float32), "must be integers")):
        with pytest.raises(JCASInputError, match=message):
            Trainer([images], [drawn], tiny_config(), trusted=[bad])


def test_the_model_keeps_the_typical_object_of_each_class_of_its_training_masks(mni, tmp_path):
    images, masks = mni[0][:3], mni[1][:3]
    trainer = Trainer([images], [masks], make_config("ce", "fast", epochs=1))
    expected = typical_areas(list(masks))
    assert trainer.model.object_areas == pytest.approx({v: float(a) for v, a in expected.items()})
    loaded = load_checkpoint(trainer.save(tmp_path / "m.pt"))
    assert loaded.object_areas == trainer.model.object_areas


def test_a_config_given_with_keywords_it_already_sets_is_refused_not_half_applied(mni):
    images, masks = mni
    with pytest.raises(JCASInputError, match="got a config and epochs, folds as well"):
        Trainer([images], [masks], make_config("jcas", "fast"), folds=3, epochs=2)


def test_judging_through_the_transition_changes_only_the_corrected_stage(mni):
    """``select_through_transition`` judges a corrected stage's weights by argmax(p T_C) against the held-out noisy
    masks: the warm-up's judgements stay those of the clean prediction, the corrected stage's change."""
    from jcas.data.noise import simulate_noise

    images, clean = mni[0][:4], mni[1][:4]
    noisy, _ = simulate_noise(clean, kind="asymmetric", fraction=0.3, seed=0)  # systematic: class i -> i + 1

    def judgements(through: bool) -> dict[str, list[float]]:
        config = tiny_config(epochs=8, batch_size=4, crop=96, folds=2, selection_points=8,
                             select_through_transition=through)
        scores: dict[str, list[float]] = {}
        for event in Trainer([images], [noisy], config).run():
            if event.agreement is not None and event.fold == 0:
                scores.setdefault(event.stage, []).append(event.agreement)
        return scores

    clean_prediction, noisy_prediction = judgements(False), judgements(True)
    assert len(clean_prediction["warmup"]) == len(clean_prediction["jcas"]) == 4
    assert noisy_prediction["warmup"] == clean_prediction["warmup"]
    assert noisy_prediction["jcas"] != clean_prediction["jcas"]


def test_averaged_weights_are_judged_and_kept(mni):
    """With ``average_epochs`` each fold model is judged, and kept, with the moving average of its weights."""
    images, masks = [mni[0][:2]], [mni[1][:2]]

    def trained(**overrides):
        trainer = Trainer(images, masks, tiny_config(epochs=4, selection_points=4, **overrides))
        agreements = [e.agreement for e in trainer.run() if e.agreement is not None]
        return agreements, trainer.model.members[0].network.state_dict()

    plain_agreements, plain_weights = trained(average_epochs=0.0)
    averaged_agreements, averaged_weights = trained(average_epochs=1.0)
    assert trained(average_epochs=1.0)[0] == averaged_agreements  # reproducible
    assert averaged_agreements != plain_agreements
    assert any(not torch.equal(plain_weights[name], averaged_weights[name]) for name in plain_weights)
    with pytest.raises(JCASInputError, match="average_epochs must be 0"):
        tiny_config(average_epochs=-1.0)
