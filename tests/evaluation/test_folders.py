"""Tests of folder evaluation on real files written to a temporary folder."""
import json

import numpy as np
import pytest

from jcas.data.io import write_array
from jcas.errors import JCASInputError
from jcas.evaluation import metrics
from jcas.evaluation.folders import evaluate_folders, format_report


def make_case(seed, shape=(24, 32)):
    """A truth with labels {0, 3, 7} and ignore pixels, a noisy copy and a partly cleaned copy."""
    rng = np.random.default_rng(seed)
    truth = np.zeros(shape, dtype=np.uint8)
    truth[4:14, 5:20] = 3
    truth[15:22, 10:28] = 7
    truth[0, :4] = 255
    noisy = truth.copy()
    flip = (rng.random(shape) < 0.2) & (truth != 255)
    noisy[flip] = rng.choice(np.array([0, 3, 7], dtype=np.uint8), size=flip.sum())
    cleaned = np.where(rng.random(shape) < 0.6, truth, noisy).astype(np.uint8)
    cleaned[truth == 255] = 0
    heatmap = ((noisy != truth) * 0.3 + rng.random(shape) * 0.5).astype(np.float32)
    return truth, noisy, cleaned, heatmap


@pytest.fixture
def folders(tmp_path):
    """Folders truth/, pred/, noisy/ and heatmaps/ with three cases in mixed file formats."""
    cases = {}
    for index, (stem, suffix) in enumerate([("a", ".png"), ("b", ".tif"), ("c", ".png")]):
        truth, noisy, cleaned, heatmap = make_case(index)
        write_array(tmp_path / "truth" / f"{stem}{suffix}", truth)
        write_array(tmp_path / "pred" / f"{stem}.tif", cleaned)
        write_array(tmp_path / "noisy" / f"{stem}.png", noisy)
        write_array(tmp_path / "heatmaps" / f"{stem}.tif", heatmap)
        cases[stem] = (truth, noisy, cleaned, heatmap)
    return tmp_path, cases


def test_scores_match_the_metrics_and_serialise_to_strict_json(folders):
    root, cases = folders
    result = evaluate_folders(root / "pred", root / "truth", root / "noisy", root / "heatmaps")
    truths, noisy, cleaned, heatmaps = (list(parts) for parts in zip(*(cases[s] for s in sorted(cases))))
    json.dumps(result, allow_nan=False)
    assert result["n_images"] == 3 and result["labels"] == [0, 3, 7] and result["background"] == 0
    expected_dice = metrics.dice_per_class(cleaned, truths)
    assert result["dice"] == pytest.approx({str(k): v for k, v in expected_dice.items()})
    assert result["mean_dice"] == pytest.approx(metrics.mean_dice(cleaned, truths))
    assert result["mean_dice_present"] == pytest.approx(metrics.mean_dice_present(cleaned, truths))
    assert result["mean_dice_noisy"] == pytest.approx(metrics.mean_dice(noisy, truths))
    assert result["label_quality_gain"] == pytest.approx(metrics.label_quality_gain(cleaned, noisy, truths))
    assert result["label_quality_gain"] > 0
    assert [entry["stem"] for entry in result["per_image"]] == ["a", "b", "c"]
    assert result["per_image"][1]["mean_dice"] == pytest.approx(metrics.mean_dice(cleaned[1], truths[1]))
    valid = np.concatenate([(t != 255).ravel() for t in truths])
    noise = np.concatenate([(n != t).ravel() for n, t in zip(noisy, truths)])
    scores = np.concatenate([h.ravel() for h in heatmaps])
    assert result["heatmap_auroc"] == pytest.approx(metrics.auroc(scores, noise, valid))
    assert result["heatmap_ap"] == pytest.approx(metrics.average_precision(scores, noise, valid))
    assert 0.5 < result["heatmap_auroc"] <= 1.0


def test_optional_parts_are_left_out_without_their_folders(folders):
    root, _ = folders
    result = evaluate_folders(root / "pred", root / "truth")
    assert "label_quality_gain" not in result and "heatmap_auroc" not in result
    with_noisy = evaluate_folders(root / "pred", root / "truth", noisy_dir=root / "noisy")
    assert "label_quality_gain" in with_noisy and "heatmap_auroc" not in with_noisy


def test_a_volume_and_an_absent_class_give_none_not_nan(tmp_path):
    truth = np.zeros((3, 8, 8), dtype=np.uint8)
    truth[:, 2:5, 2:5] = 1
    write_array(tmp_path / "truth" / "vol.nii.gz", truth)
    write_array(tmp_path / "pred" / "vol.nii", truth)
    result = evaluate_folders(tmp_path / "pred", tmp_path / "truth")
    assert result["dice"] == {"0": 1.0, "1": 1.0} and result["mean_dice"] == 1.0
    empty = np.zeros((8, 8), dtype=np.uint8)
    write_array(tmp_path / "truth2" / "x.png", empty)
    write_array(tmp_path / "pred2" / "x.png", empty)
    result = evaluate_folders(tmp_path / "pred2", tmp_path / "truth2")
    assert result["mean_dice"] is None
    json.dumps(result, allow_nan=False)


def test_report_lists_classes_and_scores(folders):
    root, _ = folders
    result = evaluate_folders(root / "pred", root / "truth", root / "noisy", root / "heatmaps")
    report = format_report(json.loads(json.dumps(result)))
    lines = report.splitlines()
    assert lines[0].startswith("3 images")
    assert any(line.startswith("7 ") for line in lines)
    assert f"{result['mean_dice']:6.3f}" in report
    assert f"{result['label_quality_gain']:+6.3f}" in report
    assert "AUROC" in report


def test_empty_folder_is_an_error(tmp_path, folders):
    root, _ = folders
    (tmp_path / "empty").mkdir()
    with pytest.raises(JCASInputError, match="holds no"):
        evaluate_folders(tmp_path / "empty", root / "truth")
    with pytest.raises(JCASInputError, match="does not exist"):
        evaluate_folders(tmp_path / "missing", root / "truth")


def test_files_without_partner_are_listed(folders):
    root, _ = folders
    (root / "pred" / "b.tif").unlink()
    write_array(root / "pred" / "zz.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(JCASInputError, match="no prediction file for: b") as error:
        evaluate_folders(root / "pred", root / "truth")
    assert "zz" in str(error.value)


def test_missing_heatmap_is_listed(folders):
    root, _ = folders
    (root / "heatmaps" / "c.tif").unlink()
    with pytest.raises(JCASInputError, match="heatmap.*c"):
        evaluate_folders(root / "pred", root / "truth", root / "noisy", root / "heatmaps")


def test_shape_mismatch_names_file_and_both_shapes(folders):
    root, _ = folders
    write_array(root / "noisy" / "a.png", np.zeros((10, 10), np.uint8), overwrite=True)
    with pytest.raises(JCASInputError, match=r"a\.png has shape \(10, 10\).*\(24, 32\)"):
        evaluate_folders(root / "pred", root / "truth", root / "noisy")
