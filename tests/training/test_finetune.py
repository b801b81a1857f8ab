"""Fine-tuning a saved model: through ``jcas train --init-model`` on real files."""
import numpy as np
import pytest
import torch

from jcas.cli import main
from jcas.data.io import write_array
from jcas.data.pairs import load_pairs, match_folders
from jcas.errors import JCASInputError
from jcas.nn.checkpoint import load_checkpoint
from jcas.nn.model import JCASModel
from jcas.settings import FINE_TUNE_RATE, fine_tune_config, make_config
from jcas.training.trainer import Trainer

@pytest.fixture(scope="module")
def saved(tmp_path_factory, mni):
    """Four 112 x 112 MNI slices with labels {0, 3, 7} on disk and a model briefly trained on them."""
    tmp = tmp_path_factory.mktemp("fine_tune")
    images, masks = mni
    values = np.array([0, 3, 7], dtype=np.uint8)
    for z in range(4):
        write_array(tmp / "images" / f"slice{z}.png", images[2 * z, 60:172, 40:152])
        write_array(tmp / "masks" / f"slice{z}.png", values[masks[2 * z, 60:172, 40:152]])
    images, masks = load_pairs(match_folders(tmp / "images", tmp / "masks"))
    # seed 5: its initial weights differ from those a run with seed 0 (the fine-tune's) starts from
    trainer = Trainer(images, masks, make_config("jcas", "fast", epochs=2, min_steps=8, crop=64, seed=5, folds=2))
    for _ in trainer.run():
        pass
    trainer.save(tmp / "model.pt")
    return tmp


def member_weights(member) -> torch.Tensor:
    """All trainable parameters of a fold model, as one vector (running statistics left out)."""
    return torch.cat([p.detach().flatten().float() for p in member.parameters()])


@pytest.mark.slow
def test_fine_tune_continues_from_the_saved_model(saved, tmp_path, capsys):
    assert main(["train", "--images", str(saved / "images"), "--masks", str(saved / "masks"), "--model",
                 str(tmp_path / "tuned.pt"), "--init-model", str(saved / "model.pt"), "--epochs", "2"]) == 0
    assert "fine-tuning" in capsys.readouterr().out
    start, tuned = load_checkpoint(saved / "model.pt", "cpu"), load_checkpoint(tmp_path / "tuned.pt", "cpu")
    assert tuned.label_map.values == (0, 3, 7) and tuned.config.preset == "fast" and tuned.config.width == 16
    assert tuned.config.learning_rate == start.config.learning_rate * FINE_TUNE_RATE
    assert list(tuned.trained) == [True, True]
    for k in range(tuned.folds):
        torch.manual_seed(k)  # where fold k of a seed-0 run starts without --init-model
        fresh = member_weights(JCASModel(start.config, start.label_map, 1))
        tuned_k, start_k = member_weights(tuned.members[k]), member_weights(start.members[k])
        assert 0 < (tuned_k - start_k).norm() < (tuned_k - fresh).norm(), "it starts at the saved weights"


def test_each_fold_starts_from_the_saved_fold_model_that_held_its_slices_out(saved):
    start = load_checkpoint(saved / "model.pt", "cpu")
    images, masks = load_pairs(match_folders(saved / "images", saved / "masks"))
    config = fine_tune_config(start.config, epochs=2)
    same = Trainer(images, masks, config, init_model=start)
    reversed_order = Trainer(images[::-1], masks[::-1], config, init_model=start)
    for k in range(2):
        assert torch.equal(member_weights(same.model.members[k]), member_weights(start.members[k]))
        # reversed, new fold 0 holds out the slices saved fold 1 held out, and the other way round
        assert torch.equal(member_weights(reversed_order.model.members[k]), member_weights(start.members[1 - k]))


def test_the_python_api_fine_tunes_on_the_preset_it_is_given_and_refuses_another_method(saved):
    start = load_checkpoint(saved / "model.pt", "cpu")
    images, masks = load_pairs(match_folders(saved / "images", saved / "masks"))
    assert Trainer(images, masks, init_model=start).config.preset == "fast"  # the fine-tune's own default
    long = Trainer(images, masks, init_model=start, preset="long").config
    assert (long.preset, long.epochs_warmup) == ("long", 60)
    assert long.learning_rate == start.config.learning_rate * FINE_TUNE_RATE
    assert Trainer(images, masks, init_model=start, method="jcas").config.method == "jcas"  # its own: accepted
    with pytest.raises(JCASInputError, match="trained with method 'jcas', and a fine-tune keeps it"):
        Trainer(images, masks, init_model=start, method="ce")
    assert Trainer(images, masks, preset="fast", folds=2).config.method == "jcas"  # a new run's defaults


def test_a_fine_tune_refuses_other_classes_channels_and_networks(saved, tmp_path, capsys):
    tmp = tmp_path
    write_array(tmp / "other" / "slice0.png", np.where(np.arange(112 * 112).reshape(112, 112) % 7 == 0, 9, 0)
                .astype(np.uint8))
    base = ["train", "--images", str(saved / "images"), "--model", str(tmp / "tuned.pt"),
            "--init-model", str(saved / "model.pt")]
    other = tmp / "other_images"
    write_array(other / "slice0.png", np.zeros((112, 112), dtype=np.uint8))
    assert main(["train", "--images", str(other), "--masks", str(tmp / "other"), "--model", str(tmp / "tuned.pt"),
                 "--init-model", str(saved / "model.pt")]) == 2
    assert "label values [9]" in capsys.readouterr().err
    assert main(base + ["--masks", str(saved / "masks"), "--network", "deeplab"]) == 2
    assert "a fine-tune keeps it" in capsys.readouterr().err
    rgb = tmp / "rgb"
    for z in range(4):
        write_array(rgb / f"slice{z}.png", np.zeros((112, 112, 3), dtype=np.uint8))
    assert main(["train", "--images", str(rgb), "--masks", str(saved / "masks"), "--model", str(tmp / "tuned.pt"),
                 "--init-model", str(saved / "model.pt")]) == 2
    assert "reads 1-channel images; these have 3" in capsys.readouterr().err
    assert not (tmp / "tuned.pt").exists()
    with pytest.raises(JCASInputError, match="keeps the saved model's width"):
        fine_tune_config(make_config(), width=32)
