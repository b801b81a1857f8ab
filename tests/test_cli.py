import csv
import hashlib
import json

import numpy as np
import pytest

from jcas.cli import main
from jcas.data.io import read_array, write_array


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def folders(tmp_path, mni):
    images, masks = mni
    values = np.array([0, 3, 7], dtype=np.uint8)  # labels as a user drew them
    for z in range(images.shape[0]):
        write_array(tmp_path / "images" / f"slice{z}.png", images[z])
        write_array(tmp_path / "clean" / f"slice{z}.png", values[masks[z]])
    return tmp_path


@pytest.mark.slow
def test_simulate_train_correct_evaluate_cleans_real_slices(folders, capsys):
    tmp = folders
    assert main(["simulate-noise", "--masks", str(tmp / "clean"), "--out", str(tmp / "noisy"),
                 "--kind", "mixed", "--fraction", "0.5", "--seed", "1"]) == 0
    inputs = digest(tmp / "images") | digest(tmp / "noisy")
    assert main(["train", "--images", str(tmp / "images"), "--masks", str(tmp / "noisy"), "--model",
                 str(tmp / "model.pt"), "--preset", "fast", "--seed", "0"]) == 0
    assert main(["correct", "--model", str(tmp / "model.pt"), "--images", str(tmp / "images"), "--masks",
                 str(tmp / "noisy"), "--out", str(tmp / "out")]) == 0
    assert inputs == digest(tmp / "images") | digest(tmp / "noisy"), "inputs must never change"
    corrected = read_array(tmp / "out" / "slice3.png")
    assert corrected.shape == (233, 197) and set(np.unique(corrected)) <= {0, 3, 7}
    assert read_array(tmp / "out" / "disagreement" / "slice3.tif").dtype == np.float32
    header = (tmp / "out" / "regions.csv").read_text().splitlines()[0]
    assert header.startswith("stem,index,slice,y0,x0,y1,x1,area,old_label,new_label,score")
    assert main(["correct", "--model", str(tmp / "model.pt"), "--images", str(tmp / "images"), "--masks",
                 str(tmp / "noisy"), "--out", str(tmp / "mirrored"), "--mirror"]) == 0
    plain, mirrored = (read_array(tmp / out / "disagreement" / "slice3.tif") for out in ("out", "mirrored"))
    assert mirrored.shape == plain.shape and not np.array_equal(mirrored, plain)

    assert main(["evaluate", "--pred", str(tmp / "out"), "--truth", str(tmp / "clean"), "--noisy", str(tmp / "noisy"),
                 "--heatmaps", str(tmp / "out" / "disagreement"), "--json", str(tmp / "scores.json")]) == 0
    scores = json.loads((tmp / "scores.json").read_text())
    assert scores["mean_dice"] > scores["mean_dice_noisy"] + 0.03
    assert scores["heatmap_auroc"] > 0.7


def test_outputs_are_never_overwritten_without_asking(folders, capsys):
    tmp = folders
    args = ["simulate-noise", "--masks", str(tmp / "clean"), "--out", str(tmp / "noisy")]
    assert main(args) == 0
    before = digest(tmp / "noisy")
    assert main(args + ["--seed", "5"]) == 2
    assert "exist already" in capsys.readouterr().err and digest(tmp / "noisy") == before
    assert main(args + ["--seed", "5", "--overwrite"]) == 0
    assert digest(tmp / "noisy") != before


def test_bad_input_exits_2_with_a_message(folders, capsys):
    tmp = folders
    (tmp / "images" / "slice0.png").rename(tmp / "images" / "lonely.png")
    assert main(["train", "--images", str(tmp / "images"), "--masks", str(tmp / "clean"),
                 "--model", str(tmp / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "image without mask: lonely.png" in err and "mask without image: slice0.png" in err
    assert main(["correct", "--model", str(tmp / "none.pt"), "--images", str(tmp / "images"), "--masks",
                 str(tmp / "clean"), "--out", str(tmp / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_runs_headless_and_writes_a_figure(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Dice against the true masks" in out
    assert (tmp_path / "demo.png").stat().st_size > 10_000 and (tmp_path / "model.pt").is_file()


def test_usage_errors_return_2_and_help_returns_0(capsys):
    assert main(["train", "--images", "images"]) == 2
    assert "jcas train: error: the following arguments are required" in capsys.readouterr().err
    assert main(["correct", "--help"]) == 0
    assert "--overwrite" in capsys.readouterr().out


@pytest.mark.slow
def test_ignore_pixels_pass_through_training_and_correction_untouched(tmp_path, mni, small_training):
    """Unlabelled pixels (255) teach nothing, are never proposed as anything, and stay 255 in the output."""
    images, masks = mni
    values = np.array([0, 3, 7], dtype=np.uint8)
    for z in range(6):
        drawn = values[masks[z + 1]]
        drawn[:40] = 255  # an unlabelled band
        drawn[100:110, 50:150] = 255
        write_array(tmp_path / "images" / f"slice{z}.png", images[z + 1])
        write_array(tmp_path / "masks" / f"slice{z}.png", drawn)
    assert main(["train", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"), "--model",
                 str(tmp_path / "model.pt"), "--preset", "fast", "--epochs", "2"]) == 0
    assert main(["correct", "--model", str(tmp_path / "model.pt"), "--images", str(tmp_path / "images"),
                 "--masks", str(tmp_path / "masks"), "--out", str(tmp_path / "out"),
                 "--min-area", "1", "--min-score", "0", "--min-confidence", "0"]) == 0  # replace every pixel
    changed = 0
    for z in range(6):
        drawn, corrected = read_array(tmp_path / "masks" / f"slice{z}.png"), read_array(tmp_path / "out" / f"slice{z}.png")
        np.testing.assert_array_equal(corrected == 255, drawn == 255)
        assert set(np.unique(corrected[drawn != 255])) <= {0, 3, 7}
        changed += int(np.sum(corrected != drawn))
    assert changed > 0, "the correction must have proposed something for the test to mean anything"
    with open(tmp_path / "out" / "regions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["old_label"] for row in rows} | {row["new_label"] for row in rows} <= {"0", "3", "7"}


def test_train_takes_trusted_labels_from_a_folder_matched_by_name(tmp_path, mni, small_training, capsys):
    images, masks = mni
    for z in range(3):
        write_array(tmp_path / "images" / f"slice{z}.png", images[z])
        write_array(tmp_path / "masks" / f"slice{z}.png", masks[z].astype(np.uint8))
    confirmed = np.full(masks[0].shape, 255, dtype=np.uint8)
    confirmed[50:90, 60:120] = masks[0][50:90, 60:120]
    write_array(tmp_path / "trusted" / "slice0.png", confirmed)  # one mask of three has confirmed pixels
    train = ["train", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"),
             "--trusted", str(tmp_path / "trusted"), "--epochs", "1", "--folds", "1"]
    assert main(train + ["--model", str(tmp_path / "model.pt")]) == 0
    assert (tmp_path / "model.pt").is_file()

    write_array(tmp_path / "trusted" / "other.png", confirmed)
    assert main(train + ["--model", str(tmp_path / "again.pt")]) == 2
    assert "name no mask:\n  other.png" in capsys.readouterr().err
    (tmp_path / "trusted" / "other.png").unlink()
    write_array(tmp_path / "trusted" / "slice1.png", confirmed[:100])
    assert main(train + ["--model", str(tmp_path / "again.pt")]) == 2
    assert "slice1.png: the trusted labels are (100, 197)" in capsys.readouterr().err
    assert not (tmp_path / "again.pt").exists()


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_correct_keeps_the_class_names_and_the_spacing_stored_in_the_masks(tmp_path, mni, suffix):
    """Names that live only in the masks' metadata (no classes.json) and the pixel spacing go
    from the clean masks through simulate-noise and correct into the corrected masks.

    The model's weights do not matter here, so it is saved untrained: correct still reads, judges
    and writes every file as it does with a trained one."""
    from helpers import tiny_config

    from jcas.data.class_names import class_names_of
    from jcas.data.io import affine_of_spacing, read_with_affine, spacing_of_affine
    from jcas.training.trainer import Trainer

    images, masks = mni
    names = {0: "background", 3: "grey matter", 7: "white matter"}
    drawn = np.array([0, 3, 7], dtype=np.uint8)[masks[2:5, 60:124, 50:114]]
    spacing = affine_of_spacing((2.0, 0.5, 0.8), 3)
    write_array(tmp_path / "images" / f"brain{suffix}", images[2:5, 60:124, 50:114], affine=spacing)
    write_array(tmp_path / "clean" / f"brain{suffix}", drawn, affine=spacing, labels=True, class_names=names)
    assert main(["simulate-noise", "--masks", str(tmp_path / "clean"), "--out", str(tmp_path / "noisy")]) == 0
    assert class_names_of(tmp_path / "noisy" / f"brain{suffix}") == names
    Trainer([images[2:5, 60:124, 50:114]], [read_array(tmp_path / "noisy" / f"brain{suffix}")],
            tiny_config()).save(tmp_path / "model.pt")
    assert main(["correct", "--model", str(tmp_path / "model.pt"), "--images", str(tmp_path / "images"),
                 "--masks", str(tmp_path / "noisy"), "--out", str(tmp_path / "out")]) == 0
    assert not list(tmp_path.rglob("classes.json"))
    corrected, affine = read_with_affine(tmp_path / "out" / f"brain{suffix}")
    assert corrected.shape == drawn.shape and set(np.unique(corrected)) <= {0, 3, 7}
    assert class_names_of(tmp_path / "out" / f"brain{suffix}") == names
    np.testing.assert_allclose(spacing_of_affine(affine, 3), (2.0, 0.5, 0.8), rtol=1e-6)
