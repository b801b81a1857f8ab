"""Hostile input for the real ``jcas`` command on real files: nothing the user made is lost, nothing is
silently wrong, nothing crashes.

Every refused command must exit with status 2 and a ``jcas <command>: error:`` message (never a
traceback) and leave every file under the test folder byte for byte as it was (sha256), with no
temporary file left behind.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import jcas.correction.folder
import jcas.data.io
from jcas.cli import main
from jcas.data.io import read_array, write_array
from jcas.data.samples import SAMPLE_DIR
from jcas.errors import JCASInputError
from jcas.nn.checkpoint import load_checkpoint, save_checkpoint
from jcas.training.trainer import Trainer, make_config

SIZE = 32
HEADER_ONLY_TIFF = b"II*\x00\x08\x00\x00\x00"  # a TIFF cut off after its header


def classes(seed: int, size: int = SIZE) -> np.ndarray:
    """Class indices 0, 1, 2 of a small synthetic slice."""
    index = np.zeros((size, size), dtype=np.int64)
    shift = seed % 4
    index[6 + shift:20, 5:22 - shift] = 1
    index[22:30, 2 + shift:12] = 2
    return index


def picture(index: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 40, index.shape)
    return (index * 70 + noise).astype(np.uint8)


def write_pairs(images: Path, masks: Path, stems=("a", "b"), values=(0, 1, 2), dtype=np.uint8) -> None:
    for seed, stem in enumerate(stems):
        index = classes(seed)
        write_array(images / f"{stem}.png", picture(index, seed))
        write_array(masks / f"{stem}.png", np.asarray(values, dtype=dtype)[index])


def tiny_config(**overrides):
    return make_config("jcas", "fast", **({"epochs": 1, "batch_size": 2, "crop": 32, "folds": 1} | overrides))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two small trained models: labels {0, 1, 2} (uint8 masks) and {0, 300, 1000} (uint16 masks)."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, values, dtype in (("plain", (0, 1, 2), np.uint8), ("wide", (0, 300, 1000), np.uint16)):
        images = [picture(classes(seed), seed) for seed in range(2)]
        masks = [np.asarray(values, dtype=dtype)[classes(seed)] for seed in range(2)]
        trainer = Trainer(images, masks, tiny_config())
        for _ in trainer.run():
            pass
        paths[name] = trainer.save(folder / f"{name}.pt")
    return paths


@pytest.fixture
def data(tmp_path, models):
    """images/ and masks/ (a, b), truth/ (the same masks), model.pt and wide.pt, notes.txt."""
    write_pairs(tmp_path / "images", tmp_path / "masks")
    shutil.copytree(tmp_path / "masks", tmp_path / "truth")
    shutil.copy(models["plain"], tmp_path / "model.pt")
    shutil.copy(models["wide"], tmp_path / "wide.pt")
    (tmp_path / "notes.txt").write_text("a file of the user's\n")
    return tmp_path


def state(root: Path) -> dict[str, str]:
    """Every file, folder and link under ``root``: sha256 of files, targets of links."""
    found = {}
    for folder, names, files in os.walk(root):
        for name in names + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = f"link to {os.readlink(path)}"
            elif path.is_dir():
                found[key] = "folder"
            else:
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(root: Path) -> list[str]:
    """Temporary files or folders of a write (their names carry `.jcas-`)."""
    return [key for key in state(root) if ".jcas-" in key]


def run(argv, capsys) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def payload_of(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def edited_model(tmp: Path, edit) -> Path:
    payload = payload_of(tmp / "model.pt")
    edit(payload)
    path = tmp / "edited.pt"
    torch.save(payload, path)
    return path


def rgb(array: np.ndarray) -> np.ndarray:
    return np.repeat(array[..., None], 3, axis=-1).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Each case: a function that prepares hostile files under the test folder and returns the
# command line, and a part of the message the user must see.


def tiny_pairs(t: Path, side: int) -> list:
    for seed, stem in enumerate(("a", "b")):
        index = (np.arange(side * side).reshape(side, side) + seed) % 2
        write_array(t / "tiny" / "images" / f"{stem}.png", (index * 200).astype(np.uint8))
        write_array(t / "tiny" / "masks" / f"{stem}.png", index.astype(np.uint8))
    return ["train", "--images", t / "tiny" / "images", "--masks", t / "tiny" / "masks", "--model", t / "m.pt",
            "--epochs", "1"]


def rgb_masks(t: Path) -> Path:
    for seed, stem in enumerate(("a", "b")):
        write_array(t / "rgb" / "images" / f"{stem}.png", rgb(picture(classes(seed), seed)))
        write_array(t / "rgb" / "masks" / f"{stem}.png", rgb(classes(seed)))
    return t / "rgb"


def header_only_tiff(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HEADER_ONLY_TIFF)
    return path


def corrupt_mask_folder(t: Path) -> Path:
    shutil.copytree(t / "masks", t / "corrupt")
    (t / "corrupt" / "a.png").unlink()
    header_only_tiff(t / "corrupt" / "a.tif")
    return t / "corrupt"


def corrupt_image_folder(t: Path) -> Path:
    shutil.copytree(t / "images", t / "corrupt_images")
    (t / "corrupt_images" / "a.png").unlink()
    header_only_tiff(t / "corrupt_images" / "a.tif")
    return t / "corrupt_images"


def twin_stems(t: Path, folder: str) -> Path:
    write_array(t / folder / "a.tif", read_array(t / folder / "a.png"))
    return t / folder


def wide_labels_uint8_mask(t: Path) -> list:
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)  # holds only 0, which the wide model knows
    mask[:3] = 255
    for stem in ("a", "b"):
        write_array(t / "u8" / f"{stem}.png", mask)
    return ["correct", "--model", t / "wide.pt", "--images", t / "images", "--masks", t / "u8", "--out", t / "out"]


def correct_args(t: Path, out, model="model.pt", images="images", masks="masks"):
    return ["correct", "--model", t / model if isinstance(model, str) else model,
            "--images", t / images if isinstance(images, str) else images,
            "--masks", t / masks if isinstance(masks, str) else masks, "--out", out]


def train_args(t: Path, model, images="images", masks="masks"):
    return ["train", "--images", t / images if isinstance(images, str) else images,
            "--masks", t / masks if isinstance(masks, str) else masks, "--model", model, "--epochs", "1"]


def symlink(t: Path, name: str, target: str) -> Path:
    (t / name).symlink_to(t / target, target_is_directory=True)
    return t / name


def nan_weights(payload: dict) -> None:
    weights = payload["members"][0] if "members" in payload else payload["state_dict"]
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name] = torch.full_like(weights[name], float("nan"))


def truncated_model(t: Path) -> Path:
    (t / "truncated.pt").write_bytes((t / "model.pt").read_bytes()[:1000])
    return t / "truncated.pt"


def existing_in(t: Path, name: str) -> Path:
    (t / "demo_out").mkdir()
    (t / "demo_out" / name).write_bytes(b"the user's own file")
    return t / "demo_out"


def mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


SAMPLE_DATA = SAMPLE_DIR

CASES = [
    # simulate-noise
    ("noise-out-is-masks", lambda t: ["simulate-noise", "--masks", t / "masks", "--out", t / "masks", "--overwrite"],
     "is the --masks folder"),
    ("noise-out-inside-masks", lambda t: ["simulate-noise", "--masks", t / "masks", "--out", t / "masks" / "noisy",
                                          "--overwrite"], "lies inside the --masks folder"),
    ("noise-out-links-to-masks", lambda t: ["simulate-noise", "--masks", t / "masks", "--out",
                                            symlink(t, "link", "masks"), "--overwrite"], "the --masks folder"),
    ("noise-rgb-mask", lambda t: ["simulate-noise", "--masks", rgb_masks(t) / "masks", "--out", t / "noisy"],
     "single-channel label image"),
    ("noise-seed-negative", lambda t: ["simulate-noise", "--masks", t / "masks", "--out", t / "noisy", "--seed", "-1"],
     "--seed"),
    ("noise-seed-huge", lambda t: ["simulate-noise", "--masks", t / "masks", "--out", t / "noisy",
                                   "--seed", str(2**70)], "--seed"),
    ("noise-out-is-a-file", lambda t: ["simulate-noise", "--masks", t / "masks", "--out", t / "notes.txt"],
     "is a file, not a folder"),
    ("noise-out-under-a-file", lambda t: ["simulate-noise", "--masks", t / "masks", "--out", t / "notes.txt" / "x"],
     "is a file, not a folder"),
    ("noise-masks-is-a-file", lambda t: ["simulate-noise", "--masks", t / "masks" / "a.png", "--out", t / "noisy"],
     "is a file, not a folder"),
    ("noise-twin-stems", lambda t: ["simulate-noise", "--masks", twin_stems(t, "masks"), "--out", t / "noisy"],
     "a.png, a.tif"),
    ("noise-corrupt-tiff", lambda t: ["simulate-noise", "--masks", corrupt_mask_folder(t), "--out", t / "noisy"],
     "holds no image"),
    # train
    ("train-model-is-a-folder", lambda t: train_args(t, mkdir(t / "modeldir")) + ["--overwrite"], "is a folder"),
    ("train-model-inside-masks", lambda t: train_args(t, t / "masks" / "model.pt"), "lies inside the --masks folder"),
    ("train-model-is-a-mask", lambda t: train_args(t, t / "masks" / "a.png") + ["--overwrite"], "the --masks folder"),
    ("train-model-is-images-folder", lambda t: train_args(t, t / "images") + ["--overwrite"],
     "is the --images folder"),
    ("train-model-exists", lambda t: train_args(t, t / "model.pt"), "exist already"),
    ("train-model-under-a-file", lambda t: train_args(t, t / "notes.txt" / "model.pt"), "is a file, not a folder"),
    ("train-same-folder", lambda t: train_args(t, t / "m.pt", masks="images"), "are the same"),
    ("train-images-is-a-file", lambda t: train_args(t, t / "m.pt", images=t / "images" / "a.png"),
     "is a file, not a folder"),
    ("train-tiny-7", lambda t: tiny_pairs(t, 7), "at least 8 x 8 pixels"),
    ("train-tiny-2", lambda t: tiny_pairs(t, 2), "at least 8 x 8 pixels"),
    ("train-tiny-1", lambda t: tiny_pairs(t, 1), "at least 8 x 8 pixels"),
    ("train-seed-negative", lambda t: train_args(t, t / "m.pt") + ["--seed", "-1"], "--seed"),
    ("train-seed-huge", lambda t: train_args(t, t / "m.pt") + ["--seed", str(2**70)], "--seed"),
    ("train-rgb-image-rgb-mask", lambda t: train_args(t, t / "m.pt", images=rgb_masks(t) / "images",
                                                      masks=t / "rgb" / "masks"), "single-channel label image"),
    ("train-twin-stems", lambda t: train_args(t, t / "m.pt", images=twin_stems(t, "images")), "a.png, a.tif"),
    ("train-corrupt-tiff-image", lambda t: train_args(t, t / "m.pt", images=corrupt_image_folder(t)),
     "holds no image"),
    # correct
    ("correct-out-is-masks", lambda t: correct_args(t, t / "masks") + ["--overwrite"], "is the --masks folder"),
    ("correct-out-is-images", lambda t: correct_args(t, t / "images") + ["--overwrite"], "is the --images folder"),
    ("correct-out-inside-images", lambda t: correct_args(t, t / "images" / "out") + ["--overwrite"],
     "lies inside the --images folder"),
    ("correct-out-links-to-masks", lambda t: correct_args(t, symlink(t, "link", "masks")) + ["--overwrite"],
     "the --masks folder"),
    ("correct-out-is-the-model", lambda t: correct_args(t, t / "model.pt") + ["--overwrite"], "the --model file"),
    ("correct-out-is-a-file", lambda t: correct_args(t, t / "notes.txt") + ["--overwrite"], "is a file, not a folder"),
    ("correct-nan-weights", lambda t: correct_args(t, t / "out", model=edited_model(t, nan_weights)),
     "NaN or infinite"),
    ("correct-string-format-version",
     lambda t: correct_args(t, t / "out", model=edited_model(t, lambda p: p.update(format_version="1"))),
     "format_version"),
    ("correct-in-channels-2",
     lambda t: correct_args(t, t / "out", model=edited_model(t, lambda p: p.update(in_channels=2))), "in_channels"),
    ("correct-width-0",
     lambda t: correct_args(t, t / "out", model=edited_model(t, lambda p: p["config"].update(width=0))), "'width'"),
    ("correct-unknown-network",
     lambda t: correct_args(t, t / "out", model=edited_model(t, lambda p: p["config"].update(network="resnet9000"))),
     "network"),
    ("correct-truncated-model", lambda t: correct_args(t, t / "out", model=truncated_model(t)), "not a readable"),
    ("correct-model-is-a-folder", lambda t: correct_args(t, t / "out", model=mkdir(t / "modeldir")), "is a folder"),
    ("correct-uint8-mask-wide-labels", wide_labels_uint8_mask, "cannot hold"),
    ("correct-rgb-mask", lambda t: correct_args(t, t / "out", images=rgb_masks(t) / "images",
                                                masks=t / "rgb" / "masks"), "single-channel label image"),
    ("correct-same-folder", lambda t: correct_args(t, t / "out", masks="images"), "are the same"),
    ("correct-images-is-a-file", lambda t: correct_args(t, t / "out", images=t / "images" / "a.png"),
     "is a file, not a folder"),
    ("correct-corrupt-tiff-mask", lambda t: correct_args(t, t / "out", masks=corrupt_mask_folder(t)),
     "holds no image"),
    ("correct-twin-stems", lambda t: correct_args(t, t / "out", masks=twin_stems(t, "masks")), "a.png, a.tif"),
    ("correct-min-area-0", lambda t: correct_args(t, t / "out") + ["--min-area", "0"], "min_area"),
    # evaluate
    ("evaluate-json-is-a-truth-mask", lambda t: ["evaluate", "--pred", t / "masks", "--truth", t / "truth",
                                                 "--json", t / "truth" / "a.png", "--overwrite"],
     "lies inside the --truth folder"),
    ("evaluate-json-inside-pred", lambda t: ["evaluate", "--pred", t / "masks", "--truth", t / "truth",
                                             "--json", t / "masks" / "scores.json"], "lies inside the --pred folder"),
    ("evaluate-json-exists", lambda t: ["evaluate", "--pred", t / "masks", "--truth", t / "truth",
                                        "--json", t / "notes.txt"], "exist already"),
    ("evaluate-json-is-a-folder", lambda t: ["evaluate", "--pred", t / "masks", "--truth", t / "truth",
                                             "--json", mkdir(t / "jsondir"), "--overwrite"], "is a folder"),
    ("evaluate-heatmaps-without-noisy", lambda t: ["evaluate", "--pred", t / "masks", "--truth", t / "truth",
                                                   "--heatmaps", t / "images"], "--heatmaps needs --noisy"),
    ("evaluate-pred-is-a-file", lambda t: ["evaluate", "--pred", t / "masks" / "a.png", "--truth", t / "truth"],
     "is a file, not a folder"),
    # demo
    ("demo-model-exists", lambda t: ["demo", "--out", existing_in(t, "model.pt"), "--epochs", "1"], "exist already"),
    ("demo-figure-exists", lambda t: ["demo", "--out", existing_in(t, "demo.png"), "--epochs", "1"], "exist already"),
    ("demo-out-is-a-file", lambda t: ["demo", "--out", t / "notes.txt", "--epochs", "1"], "is a file, not a folder"),
    ("demo-out-is-sample-data", lambda t: ["demo", "--out", SAMPLE_DATA, "--epochs", "1", "--overwrite"],
     "sample data"),
]


@pytest.mark.parametrize("prepare, message", [pytest.param(p, m, id=i) for i, p, m in CASES])
def test_hostile_command_lines_are_refused_and_change_nothing(data, capsys, prepare, message):
    argv = [str(arg) for arg in prepare(data)]
    before, samples = state(data), state(SAMPLE_DATA)
    status, _, err = run(argv, capsys)
    assert status == 2, err
    assert f"jcas {argv[0]}: error:" in err and "Traceback" not in err
    assert message in err
    assert state(data) == before, "nothing may be written, replaced or left behind"
    assert state(SAMPLE_DATA) == samples


def test_there_are_at_least_40_hostile_cases():
    assert len(CASES) >= 40


JCAS_SCRIPT = shutil.which("jcas", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(JCAS_SCRIPT is None, reason="the jcas command is not installed beside this Python")
def test_the_installed_command_refuses_without_a_traceback(data):
    before = state(data)
    done = subprocess.run([JCAS_SCRIPT, *map(str, correct_args(data, data / "masks")), "--overwrite"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and "jcas correct: error:" in done.stderr and "Traceback" not in done.stderr
    assert state(data) == before


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, where no one may create files")
@pytest.mark.parametrize("command", ["train", "correct", "simulate-noise", "evaluate"])
def test_an_unwritable_location_is_reported_before_any_work(data, capsys, command):
    place = Path("/proc/jcas-test-output")
    argv = {"train": train_args(data, place / "model.pt"), "correct": correct_args(data, place),
            "simulate-noise": ["simulate-noise", "--masks", data / "masks", "--out", place],
            "evaluate": ["evaluate", "--pred", data / "masks", "--truth", data / "truth", "--json", place / "s.json"]}
    before = state(data)
    status, out, err = run(argv[command], capsys)
    assert status == 2 and f"jcas {command}: error:" in err and "cannot write in /proc" in err
    assert "Traceback" not in err and "training" not in out, "refused before any work"
    assert state(data) == before


# ---------------------------------------------------------------------------------------------
# Behaviour that must be right, not refused.


def test_one_bit_png_masks_are_trained_on_and_corrected_alike(tmp_path, small_training, capsys):
    for seed, stem in enumerate(("a", "b")):
        index = classes(seed) > 0
        write_array(tmp_path / "images" / f"{stem}.png", picture(index.astype(int), seed))
        (tmp_path / "masks").mkdir(exist_ok=True)
        Image.fromarray(index).save(tmp_path / "masks" / f"{stem}.png")  # mode "1": one bit per pixel
    inputs = state(tmp_path)
    status, _, err = run(train_args(tmp_path, tmp_path / "m.pt"), capsys)
    assert status == 0, err
    status, _, err = run(correct_args(tmp_path, tmp_path / "out", model="m.pt"), capsys)
    assert status == 0, err
    corrected = read_array(tmp_path / "out" / "a.png")
    assert corrected.dtype == np.uint8 and set(np.unique(corrected)) <= {0, 1}
    assert all(state(tmp_path)[key] == value for key, value in inputs.items())


@pytest.mark.parametrize("scale, dtype", [(3e38, np.float32), (1e300, np.float64)])
def test_huge_finite_image_values_give_finite_heatmaps(data, capsys, scale, dtype):
    for seed, stem in enumerate(("a", "b")):  # -scale, 0 and +scale: finite, but their range is not
        write_array(data / "huge" / f"{stem}.tif", ((classes(seed) - 1) * scale).astype(dtype))
    status, _, err = run(correct_args(data, data / "out", images="huge"), capsys)
    assert status == 0, err
    heatmap = read_array(data / "out" / "disagreement" / "a.tif")
    assert np.all(np.isfinite(heatmap)) and heatmap.max() <= 1


def test_ctrl_c_in_train_saves_the_model_so_far_marked_interrupted(data, small_training, monkeypatch, capsys):
    original = Trainer.run

    def interrupted_run(self):
        steps = original(self)
        try:
            for event in steps:
                yield event
                raise KeyboardInterrupt  # as if Ctrl+C came during the second step
        finally:
            steps.close()

    monkeypatch.setattr(Trainer, "run", interrupted_run)
    status, _, err = run(train_args(data, data / "m.pt") + ["--epochs", "2"], capsys)
    assert status == 130
    assert re.search(r"interrupted after 1 of \d+ steps", err) and str(data / "m.pt") in err
    assert "Traceback" not in err
    assert payload_of(data / "m.pt")["interrupted"] is True
    assert load_checkpoint(data / "m.pt").label_map.values == (0, 1, 2)
    assert leftovers(data) == []


def test_a_model_that_cannot_be_saved_late_goes_to_a_recovery_path(data, small_training, monkeypatch, capsys):
    original = Trainer.run
    target = data / "models" / "m.pt"

    def run_then_block(self):
        yield from original(self)
        (data / "models").write_text("a file now where the folder was to go")

    monkeypatch.setattr(Trainer, "run", run_then_block)
    monkeypatch.setattr(tempfile, "tempdir", str(mkdir(data / "tmp")))
    status, _, err = run(train_args(data, target), capsys)
    assert status == 2 and "jcas train: error:" in err and "Traceback" not in err
    saved = list((data / "tmp").glob("jcas-recovered-*/m.pt"))
    assert len(saved) == 1 and str(saved[0]) in err
    assert load_checkpoint(saved[0]).label_map.values == (0, 1, 2)
    assert leftovers(data) == []


def test_ctrl_c_in_correct_leaves_the_old_results_alone(data, monkeypatch, capsys):
    assert run(correct_args(data, data / "out") + ["--mirror"], capsys)[0] == 0  # other heatmaps than below
    before = state(data)
    original, calls = jcas.correction.folder.stream_correct, []

    def interrupted(*args, **kwargs):  # Ctrl+C within the second pair's first slice
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        yield from original(*args, **kwargs)

    monkeypatch.setattr(jcas.correction.folder, "stream_correct", interrupted)
    status, _, err = run(correct_args(data, data / "out") + ["--overwrite", "--min-area", "1"], capsys)
    assert status == 130 and "Traceback" not in err
    assert without_resumable_run(state(data)) == before, "old results untouched; only the stopped run kept aside"


def without_resumable_run(found: dict[str, str]) -> dict[str, str]:
    """``state`` without the hidden folder where a stopped ``jcas correct`` keeps its finished files for --resume."""
    return {key: value for key, value in found.items() if ".jcas-correct-partial" not in key}


def failing_writes(monkeypatch, failing_call: int) -> None:
    original, calls = jcas.data.io._write_now, []

    def write(path, *args):
        calls.append(path)
        if len(calls) == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, *args)

    monkeypatch.setattr(jcas.data.io, "_write_now", write)


def test_a_failing_overwrite_run_keeps_every_old_result(data, monkeypatch, capsys):
    assert run(correct_args(data, data / "out") + ["--mirror"], capsys)[0] == 0  # other heatmaps than below
    before = state(data)
    failing_writes(monkeypatch, failing_call=4)  # the first file of the second image
    status, _, err = run(correct_args(data, data / "out") + ["--overwrite", "--min-area", "1"], capsys)
    assert status == 2 and "jcas correct: error:" in err and "No space left on device" in err
    assert "Traceback" not in err and ".jcas-" not in err
    assert without_resumable_run(state(data)) == before, "old results must stay whole: all new ones or none"


def test_a_failing_run_leaves_no_partial_set(data, monkeypatch, capsys):
    before = state(data)
    failing_writes(monkeypatch, failing_call=3)
    status, _, err = run(["simulate-noise", "--masks", data / "masks", "--out", data / "noisy" / "run1"], capsys)
    assert status == 2 and "No space left on device" in err and "Traceback" not in err
    assert state(data) == before, "not one noisy mask of the set, no empty folder, no temporary file"


def test_outputs_get_the_permissions_the_umask_gives(data, capsys):
    previous = os.umask(0o022)
    try:
        assert run(["simulate-noise", "--masks", data / "masks", "--out", data / "noisy"], capsys)[0] == 0
        assert run(correct_args(data, data / "out"), capsys)[0] == 0
        assert run(["evaluate", "--pred", data / "out", "--truth", data / "truth", "--json", data / "s.json"],
                   capsys)[0] == 0
        save_checkpoint(load_checkpoint(data / "model.pt"), data / "copy.pt")
    finally:
        os.umask(previous)
    written = [p for folder in ("noisy", "out") for p in (data / folder).rglob("*") if p.is_file()]
    written += [data / "s.json", data / "copy.pt"]
    assert len(written) > 10
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {oct(0o644)}


def test_evaluate_replaces_its_json_only_with_overwrite(data, capsys):
    args = ["evaluate", "--pred", data / "masks", "--truth", data / "truth", "--json", data / "s.json"]
    assert run(args, capsys)[0] == 0
    (data / "s.json").write_text("{}")
    assert run(args, capsys)[0] == 2 and (data / "s.json").read_text() == "{}"
    assert run(args + ["--overwrite"], capsys)[0] == 0 and '"mean_dice"' in (data / "s.json").read_text()


# ---------------------------------------------------------------------------------------------
# The Python API.


def test_correct_refuses_empty_arrays_and_bad_arguments_with_clear_errors(data):
    from jcas import correct
    from jcas.data.pairs import check_correct_arguments

    model = load_checkpoint(data / "model.pt")
    with pytest.raises(JCASInputError, match="empty"):
        correct(model, np.zeros((0, 0)), np.zeros((0, 0), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="model is None"):
        check_correct_arguments(None, np.zeros((8, 8)), np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="not a trained JCAS model"):
        check_correct_arguments("model.pt", np.zeros((8, 8)), np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="ragged"):
        check_correct_arguments(model, [np.zeros((8, 8)), np.zeros((9, 9))], np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="generator"):
        check_correct_arguments(model, (np.zeros((8, 8)) for _ in range(2)), np.zeros((8, 8), dtype=np.uint8))
    image, mask = check_correct_arguments(model, [np.zeros((8, 8))] * 2, [np.zeros((8, 8), dtype=np.uint8)] * 2)
    assert image.shape == mask.shape == (2, 8, 8)


def test_a_uint8_mask_is_never_corrected_into_wrapped_labels(data):
    from jcas import correct

    model = load_checkpoint(data / "wide.pt")
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    with pytest.raises(JCASInputError, match="cannot hold"):
        correct(model, picture(classes(0), 0), mask)
    fine = correct(model, picture(classes(0), 0), mask.astype(np.uint16))
    assert set(np.unique(fine.corrected)) <= {0, 300, 1000}


def test_empty_training_arrays_are_refused_with_a_clear_error():
    with pytest.raises(JCASInputError, match="empty"):
        Trainer([np.zeros((0, 0))], [np.zeros((0, 0), dtype=np.uint8)], tiny_config())


def untrained_payload(tmp_path) -> dict:
    from jcas.data.labels import LabelMap
    from jcas.nn.model import JCASModel

    return payload_of(save_checkpoint(JCASModel(tiny_config(), LabelMap((0, 1)), 1), tmp_path / "untrained.pt"))


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(format_version="1"), "format_version"),
    (lambda p: p.update(format_version=99), "newer"),
    (lambda p: p.update(in_channels=2), "in_channels"),
    (lambda p: p.update(in_channels=True), "in_channels"),
    (lambda p: p["config"].update(width=0), "'width'"),
    (lambda p: p["config"].update(width="16"), "'width'"),
    (lambda p: p["config"].update(network="resnet9000"), "network"),
    (lambda p: p["config"].update(method="magic"), "method"),
    (lambda p: p["config"].update(colour="blue"), "colour"),
    (lambda p: p.update(config=None), "config"),
    (lambda p: p.update(label_values=[0]), "label_values"),
    (lambda p: p.update(label_values=["0", "1"]), "label_values"),
    (lambda p: p.update(ignore_value="255"), "ignore_value"),
    (lambda p: p.update(members=[]), "members"),
    (lambda p: p.update(members=[{}]), "members"),
    (nan_weights, "NaN or infinite"),
])
def test_checkpoint_fields_are_validated(tmp_path, edit, message):
    from jcas.nn.integrity import validate_checkpoint_fields

    payload = untrained_payload(tmp_path)
    validate_checkpoint_fields(payload, "m.pt")  # a sound file passes, extra keys allowed
    validate_checkpoint_fields(payload | {"interrupted": True}, "m.pt")
    edit(payload)
    with pytest.raises(JCASInputError, match=message):
        validate_checkpoint_fields(payload, "m.pt")


def test_non_finite_network_outputs_stop_the_run():
    from jcas.errors import JCASNonFiniteError
    from jcas.nn.integrity import check_finite_output

    check_finite_output(torch.ones(2, 3), "the logits")
    with pytest.raises(JCASNonFiniteError, match="the logits holds NaN or infinite"):
        check_finite_output(torch.tensor([0.5, float("nan")]), "the logits")
    with pytest.raises(JCASNonFiniteError):
        check_finite_output(np.array([np.inf]), "the heatmap")
    assert issubclass(JCASNonFiniteError, JCASInputError)  # the command exits with status 2 on it
