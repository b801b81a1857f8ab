"""The do-no-harm guard's slice and region rules: no proposal without evidence, none on a slice outside what the model
learned, none that the fold models which trained on the slice do not make themselves."""
import numpy as np
import pytest

from jcas.correction.guard import FOLD_AGREEMENT, MIN_SUPPORT, UNFAMILIAR_MARGIN, slice_agreement, untrusted_slice
from jcas import correct
from jcas.correction.prediction import predict_slice
from jcas.correction.selection import select_slice
from jcas.data.pairs import normalise
from jcas.nn.tiles import TILE, tiled_probabilities
from jcas.nn.crossfit import Trust
from jcas.settings import make_config
from jcas.training.trainer import Trainer


@pytest.fixture(scope="module")
def trained(mni):
    images, masks = mni[0][:4], mni[1][:4]
    trainer = Trainer([images], [masks], make_config("jcas", "fast", epochs=2, batch_size=4, crop=64, min_steps=1,
                                                     folds=1))
    for _ in trainer.run():
        pass
    return trainer.model, images, masks


def agreeing_at(agreement: float, classes: int = 3) -> Trust:
    """Held-out counts whose per-class Dice is ``agreement`` for every class."""
    return Trust([agreement * 100.0] * classes, [100.0] * classes, [100.0] * classes, held_out=True)


def test_a_slice_far_from_what_the_model_learned_keeps_its_drawn_labels_however_confident(trained):
    """The drawn mask of another part of the volume: the model redraws most of the slice, confidently;
    the guard withholds every region and says why, once for the slice."""
    model, images, masks = trained
    image, own = images[0], masks[0]
    foreign = np.roll(masks[3], 70, axis=1)
    free = correct(model, image, foreign, min_area=1, min_score=0.0, min_confidence=0.0, guard=False)
    assert any(r.confidence >= 0.6 and r.area >= 400 for r in free.regions)
    labels = model.label_map.encode(foreign)
    agreement = slice_agreement(predict_slice(model, image, labels).proposed, labels, 3)
    model.trust = [agreeing_at(min(1.0, agreement + UNFAMILIAR_MARGIN + 0.05))]
    guarded = correct(model, image, foreign, min_area=1, min_score=0.0, min_confidence=0.0)
    assert guarded.regions == [] and len(guarded.withheld) == len(free.regions)
    assert all("outside what it learned" in w.reason for w in guarded.withheld)
    assert [n for n in guarded.notes if "outside what it learned" in n] == [guarded.notes[0]]
    drawn_as_predicted = model.label_map.decode(predict_slice(model, image, model.label_map.encode(own)).proposed,
                                                own.dtype)
    assert untrusted_slice(model, image[None] / 255.0, model.label_map.encode(drawn_as_predicted),
                           model.label_map.encode(drawn_as_predicted)) is None


def test_an_image_with_no_signal_gets_no_proposal(trained):
    model, images, masks = trained
    model.trust = [agreeing_at(0.9)]
    flat = np.full_like(images[0], 17)
    free = correct(model, flat, masks[0], min_area=1, min_score=0.0, min_confidence=0.0, guard=False)
    assert free.regions  # the model alone would redraw the mask from its prior
    guarded = correct(model, flat, masks[0], min_area=1, min_score=0.0, min_confidence=0.0)
    assert guarded.regions == [] and np.array_equal(guarded.corrected, masks[0])
    assert all("one value everywhere" in w.reason for w in guarded.withheld)
    assert any("one value everywhere" in note for note in guarded.notes)


def test_past_the_margin_only_fold_models_that_disagree_make_a_slice_unfamiliar(trained):
    model, images, masks = trained
    labels = model.label_map.encode(masks[0])
    swapped = np.where(labels == 1, 2, np.where(labels == 2, 1, labels))  # the drawn mask wrong all over
    normalised = images[0][None] / 255.0
    model.trust = [agreeing_at(0.9)]
    assert slice_agreement(swapped, labels, 3) < 0.9 - UNFAMILIAR_MARGIN
    assert "outside what it learned" in untrusted_slice(model, normalised, labels, swapped)  # one model: margin alone
    assert untrusted_slice(model, normalised, labels, swapped, [swapped.copy()]) is None
    near = swapped.copy()
    near[: len(near) // 3] = 0  # another fold model that sees something else on a third of the slice
    assert slice_agreement(near, swapped, 3) < FOLD_AGREEMENT
    reason = untrusted_slice(model, normalised, labels, swapped, [swapped.copy(), near])
    assert "fold models agree with each other at only" in reason


def test_a_slice_drawn_wrong_all_over_is_corrected_where_the_fold_models_agree(mni):
    """Two fold models trained on right masks; a slice's drawn mask then has grey and white matter swapped. The
    slice agrees with the prediction far below the margin, but the fold model that never saw it and the one that
    trained on it agree with each other, so the guard lets the correction through."""
    images, masks = mni[0][:6], mni[1][:6]
    trainer = Trainer([images], [masks], make_config("ce", "fast", epochs=4, batch_size=4, crop=96, min_steps=40,
                                                     folds=2))
    for _ in trainer.run():
        pass
    model = trainer.model
    swapped = np.where(masks[2] == 1, 2, np.where(masks[2] == 2, 1, masks[2])).astype(masks.dtype)
    labels = model.label_map.encode(swapped)
    maps = predict_slice(model, images[2], labels)
    assert maps.judge.startswith("fold")
    assert slice_agreement(maps.proposed, labels, 3) < np.nanmean(model.pooled_trust().class_agreement) - UNFAMILIAR_MARGIN
    assert maps.slice_reason is None
    fixed = correct(model, images[2], swapped, min_area=1, min_score=0.0, min_confidence=0.0)
    assert fixed.regions and np.mean(fixed.corrected == masks[2]) > np.mean(swapped == masks[2])
    # the support is the other fold model's own label (it trained on this slice), not the judging one's
    judging = int(maps.judge.split()[1])
    normalised = normalise(images[2], model.in_channels)
    own = {k: tiled_probabilities(model.members[k], normalised, TILE).argmax(axis=0) for k in (0, 1)}
    assert np.array_equal(maps.support, (own[1 - judging] == maps.proposed).astype(np.float32))
    assert not np.array_equal(own[0], own[1])
    assert all(r.support >= MIN_SUPPORT for r in fixed.regions)


def test_a_region_the_fold_models_that_learned_the_slice_do_not_make_keeps_its_drawn_label():
    """Two candidate regions of one slice, equally confident: the check models make the first proposal themselves
    on most of its pixels and the second on a fifth of them, so only the first is proposed; without check models
    (support None, a single model) both are."""
    drawn = np.zeros((40, 40), dtype=np.uint8)
    proposed = drawn.copy()
    proposed[5:15, 5:15] = 1
    proposed[25:35, 25:35] = 1
    disagreement, confidence = np.full(drawn.shape, 0.8, np.float32), np.full(drawn.shape, 0.8, np.float32)
    support = np.ones(drawn.shape, np.float32)
    support[5:15, 5:8] = 0.0  # 70 % of the first region
    support[25:35, 25:33] = 0.0  # 20 % of the second
    floors = (1, 0.6, 0.6)
    chosen = select_slice(drawn, proposed, disagreement, confidence, 0, 1, floors, {}, None, support=support)
    assert [(r.bbox, round(r.support, 2)) for r in chosen.regions] == [((5, 5, 15, 15), 0.7)]
    assert [(w.region.bbox, round(w.region.support, 2)) for w in chosen.withheld] == [((25, 25, 35, 35), 0.2)]
    assert "fold models that trained on this slice" in chosen.withheld[0].reason
    assert np.array_equal(chosen.corrected[25:35, 25:35], drawn[25:35, 25:35])
    assert chosen.corrected[10, 10] == 1
    alone = select_slice(drawn, proposed, disagreement, confidence, 0, 1, floors, {}, None, support=None)
    assert len(alone.regions) == 2 and not alone.withheld
    unguarded = select_slice(drawn, proposed, disagreement, confidence, 0, 1, floors, None, None, support=support)
    assert len(unguarded.regions) == 2
