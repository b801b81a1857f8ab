"""The cases of the second hostile-input review: a regression, finished trainings that were
lost, sizes a few bytes declared without bound, tracebacks, raw exceptions of the Python API, and
wrong, silent or misleading behaviour.

Command-line cases run the real ``jcas`` command (its ``main`` entry, or the installed script where the
terminal matters) on real files, and check that every input file keeps its hash.
"""
from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import nibabel
import numpy as np
import pytest
import tifffile
import torch

from jcas import correct
from jcas.correction.regions import label_pairs
from jcas.data.io import read_array, write_array
from jcas.errors import JCASInputError
from jcas.nn.checkpoint import load_checkpoint
from jcas.settings import make_config
from jcas.training.trainer import Trainer
from test_hostile_inputs import (JCAS_SCRIPT, classes, correct_args, data, edited_model, leftovers,  # noqa: F401
                                 models, payload_of, picture, run, state, tiny_config, train_args)


def inputs_kept(root: Path, before: dict[str, str]) -> bool:
    """Whether every file that was under ``root`` before is there still, byte for byte."""
    now = state(root)
    return all(now.get(key) == value for key, value in before.items())


@pytest.fixture
def no_training(monkeypatch):
    """``jcas train`` builds its trainer as usual and then finishes at once (the save is what is tested)."""

    def finished(self):
        self.model.interrupted = False
        yield from ()

    monkeypatch.setattr(Trainer, "run", finished)


# ---------------------------------------------------------------------------------------------
# The regression: float-typed masks.


def test_float_masks_of_whole_numbers_are_corrected(data, models, capsys):
    model = load_checkpoint(models["plain"])
    image, mask = picture(classes(0), 0), classes(0).astype(np.float64)
    assert label_pairs(np.array([1.0, 0.0]), np.array([2.0, 1.0])) == [(0, 1), (1, 2)]
    fixed = correct(model, image, mask, min_area=1, min_score=0, min_confidence=0)
    assert fixed.corrected.dtype == np.float64 and set(np.unique(fixed.corrected)) <= {0, 1, 2}
    for seed, stem in enumerate(("a", "b")):
        write_array(data / "float_masks" / f"{stem}.tif", classes(seed).astype(np.float32))
    before = state(data)
    status, _, err = run(correct_args(data, data / "out", masks="float_masks")
                         + ["--min-area", "1", "--min-score", "0", "--min-confidence", "0"], capsys)
    assert status == 0, err
    assert read_array(data / "out" / "a.tif").dtype == np.float32
    assert inputs_kept(data, before)


# ---------------------------------------------------------------------------------------------
# A finished training is never lost.

LONG_STEM = "m" * 242  # with ".pt", 245 characters: a legal name, longer than any temporary name may repeat


def test_a_long_but_legal_model_name_is_saved_under_that_name(data, no_training, capsys):
    before = state(data)
    status, out, err = run(train_args(data, data / f"{LONG_STEM}.pt") + ["--folds", "1"], capsys)
    assert status == 0, err
    assert (data / f"{LONG_STEM}.pt").is_file() and "saved model to" in out
    assert inputs_kept(data, before) and leftovers(data) == []


def test_a_long_model_name_that_cannot_be_written_late_is_recovered_with_a_name_that_fits(
        data, monkeypatch, capsys):
    target = data / "models" / f"{LONG_STEM}.pt"

    def finish_then_block(self):
        self.model.interrupted = False
        (data / "models").write_text("a file now where the folder was to go")
        yield from ()

    monkeypatch.setattr(Trainer, "run", finish_then_block)
    monkeypatch.setattr(tempfile, "tempdir", str(data / "tmp"))
    (data / "tmp").mkdir()
    status, _, err = run(train_args(data, target) + ["--folds", "1"], capsys)
    assert status == 2 and "Traceback" not in err
    saved = list((data / "tmp").glob(f"jcas-recovered-*/{LONG_STEM}.pt"))
    assert len(saved) == 1 and str(saved[0]) in err and "instead" in err
    assert load_checkpoint(saved[0]).label_map.values == (0, 1, 2)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_the_final_save_waits_for_the_save(data, no_training, monkeypatch, capsys, number):
    original = Trainer.save

    def interrupted_save(self, path, overwrite=True):
        os.kill(os.getpid(), number)  # Ctrl+C or kill, as the file is being written
        return original(self, path, overwrite)

    monkeypatch.setattr(Trainer, "save", interrupted_save)
    status, _, err = run(train_args(data, data / "m.pt") + ["--folds", "1"], capsys)
    assert status == 130 and "Traceback" not in err
    assert "interrupted while the finished model was being saved" in err and str(data / "m.pt") in err
    assert payload_of(data / "m.pt")["interrupted"] is False
    assert leftovers(data) == []


def test_a_model_that_can_be_saved_nowhere_is_reported_lost_and_leaves_no_empty_folder(
        data, no_training, monkeypatch, capsys):
    def full_disk(self, path, overwrite=True):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(Trainer, "save", full_disk)
    monkeypatch.setattr(tempfile, "tempdir", str(data / "tmp"))
    (data / "tmp").mkdir()
    status, _, err = run(train_args(data, data / "m.pt") + ["--folds", "1"], capsys)
    assert status == 2 and "Traceback" not in err
    assert "the trained model is lost" in err and "No space left on device" in err
    assert list((data / "tmp").iterdir()) == [], "no empty jcas-recovered-* folder"
    assert leftovers(data) == []


# ---------------------------------------------------------------------------------------------
# Bounded resources: what a few bytes declare is checked before any work.


def test_the_fold_count_is_bounded_the_same_everywhere(data, monkeypatch, capsys):
    with pytest.raises(JCASInputError) as refused:
        make_config("jcas", "fast", folds=1_000_000)
    message = str(refused.value)
    assert "folds must be at least 1 and at most 16" in message and "JCAS_MAX_FOLDS=1000000" in message
    with pytest.raises(JCASInputError, match="at most 16"):
        Trainer([picture(classes(0), 0)], [classes(0)], folds=1_000_000)
    before = state(data)
    status, _, err = run(train_args(data, data / "m.pt") + ["--folds", "1000000"], capsys)
    assert status == 2 and message in err and inputs_kept(data, before)
    monkeypatch.setenv("JCAS_MAX_FOLDS", "20")
    assert make_config("jcas", "fast", folds=17).folds == 17


def zarr_store(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Path:
    """A zarr array that declares ``shape`` and holds no chunk (a file of a few hundred bytes)."""
    zarr = pytest.importorskip("zarr")
    zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype="uint8")
    return path


def huge_nifti(path: Path) -> Path:
    """A NIfTI file of a few hundred bytes whose header declares 30000 x 30000 x 1000 voxels."""
    small = nibabel.Nifti1Image(np.zeros((2, 2, 1), np.uint8), np.eye(4))
    nibabel.save(small, str(path))
    raw = bytearray(path.read_bytes())
    raw[40:56] = struct.pack("<8h", 3, 30000, 30000, 1000, 1, 1, 1, 1)  # dim[0..7]
    path.write_bytes(bytes(raw))
    return path


def huge_tiff(path: Path) -> Path:
    """A TIFF that declares 20000 x 20000 pixels and holds none (a sparse file of a few KiB on disk)."""
    tifffile.imwrite(path, shape=(20_000, 20_000), dtype="uint8")
    return path


@pytest.mark.parametrize("declare, limit", [
    (lambda t: zarr_store(t / "a.zarr", (1_000_000, 8, 8), (1, 8, 8)), "JCAS_MAX_SLICES"),
    (lambda t: zarr_store(t / "a.zarr", (100_000, 100_000), (1000, 1000)), "JCAS_MAX_SLICE_PIXELS"),
    (lambda t: huge_nifti(t / "a.nii"), "JCAS_MAX_SLICE_PIXELS"),
    (lambda t: huge_tiff(t / "a.tif"), "JCAS_MAX_SLICE_PIXELS"),
])
@pytest.mark.parametrize("command", ["train", "correct"])
def test_a_header_that_declares_a_huge_image_is_refused_before_reading(data, capsys, declare, limit, command):
    folder = data / "declared"
    folder.mkdir()
    declare(folder)
    shutil.copy(data / "images" / "b.png", folder / "b.png")
    argv = (train_args(data, data / "m.pt", images=folder) if command == "train"
            else correct_args(data, data / "out", images=folder))
    before = state(data)
    status, _, err = run(argv, capsys)
    assert status == 2 and f"jcas {command}: error:" in err and "Traceback" not in err
    assert "more than the limit" in err and limit in err
    assert inputs_kept(data, before)


def compressed_copy(source: Path, target: Path, extra_mib: int) -> Path:
    """``source`` (a torch zip file) with a zero tensor of ``extra_mib`` MiB added, deflate-compressed."""
    payload = payload_of(source)
    payload["padding"] = torch.zeros(extra_mib * 2**18)
    plain = target.with_suffix(".plain")
    torch.save(payload, plain)
    with zipfile.ZipFile(plain) as stored, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as packed:
        for entry in stored.infolist():
            packed.writestr(entry.filename, stored.read(entry.filename))
    plain.unlink()
    return target


def test_a_small_model_file_that_unpacks_to_far_more_is_refused_unread(data, capsys):
    bomb = compressed_copy(data / "model.pt", data / "bomb.pt", extra_mib=64)
    assert bomb.stat().st_size < 8 * 2**20
    with pytest.raises(JCASInputError, match="torch never compresses a model file"):
        load_checkpoint(bomb)
    before = state(data)
    status, _, err = run(correct_args(data, data / "out", model="bomb.pt"), capsys)
    assert status == 2 and "--model:" in err and "compressed" in err and inputs_kept(data, before)


def test_a_model_file_over_the_size_limit_is_refused_with_how_to_raise_it(data, monkeypatch):
    monkeypatch.setenv("JCAS_MAX_MODEL_MB", "1")
    big = data / "big.pt"
    payload = payload_of(data / "model.pt")
    payload["padding"] = torch.zeros(2**19)  # 2 MiB, stored as torch stores it
    torch.save(payload, big)
    with pytest.raises(JCASInputError, match=r"holds \d+ MiB, more than the limit of 1\. .* JCAS_MAX_MODEL_MB=\d+"):
        load_checkpoint(big)
    monkeypatch.setenv("JCAS_MAX_MODEL_MB", "one")
    with pytest.raises(JCASInputError, match="JCAS_MAX_MODEL_MB is 'one'"):
        load_checkpoint(big)


# ---------------------------------------------------------------------------------------------
# Model-file fields: checked, before anything is built from them.

FIELD_EDITS = [
    ("offsets-100000", lambda p: p["config"].update(offsets=[100000]), "offsets"),
    ("width-huge", lambda p: p["config"].update(width=2**20), "'width'"),
    ("fingerprint-of-a-missing-fold", lambda p: p["fingerprints"].update(x=5), "fingerprints"),
    ("trained-too-short", lambda p: p.update(trained=[]), "trained"),
    ("selected-epochs-text", lambda p: p.update(selected_epochs=["best"]), "selected_epochs"),
    ("ignore-value-2-70", lambda p: p.update(ignore_value=2**70), "ignore_value"),
    ("unsorted-labels", lambda p: p.update(label_values=[2, 0, 1]), "ascending"),
    ("label-beyond-int64", lambda p: p.update(label_values=[0, 2**64]), "label_values"),
    ("unknown-fold-mode", lambda p: p.update(fold_mode="sideways"), "fold_mode"),
    ("trust-of-another-kind", lambda p: p.update(trust=[{"accuracy": 0.9}]), "trust"),
    ("trust-of-other-classes", lambda p: p.update(trust=[{"intersections": [1.0], "predicted": [1.0],
                                                          "drawn": [1.0], "held_out": False}]), "trust"),
    ("too-many-members", lambda p: p.update(members=p["members"] * 17), "17 fold models"),
]


@pytest.mark.parametrize("edit, message", [pytest.param(e, m, id=i) for i, e, m in FIELD_EDITS])
def test_model_file_fields_are_refused_with_the_field_named(data, capsys, edit, message):
    model = edited_model(data, edit)
    with pytest.raises(JCASInputError, match=message):
        load_checkpoint(model)
    before = state(data)
    status, _, err = run(correct_args(data, data / "out", model=model), capsys)
    assert status == 2 and "jcas correct: error: --model:" in err and message in err and "Traceback" not in err
    assert inputs_kept(data, before)


# ---------------------------------------------------------------------------------------------
# Tracebacks that became messages.


def deeply_nested_names(folder: Path) -> None:
    (folder / "classes.json").write_text('{"0": ' * 100_000 + '"x"' + "}" * 100_000)


@pytest.mark.parametrize("command", ["correct", "simulate-noise"])
def test_a_deeply_nested_names_file_is_refused_with_a_message(data, capsys, command):
    deeply_nested_names(data / "masks")
    argv = (correct_args(data, data / "out") if command == "correct"
            else ["simulate-noise", "--masks", data / "masks", "--out", data / "noisy"])
    before = state(data)
    status, _, err = run(argv, capsys)
    assert status == 2 and "nested too deeply" in err and "Traceback" not in err
    assert inputs_kept(data, before)


@pytest.mark.skipif(JCAS_SCRIPT is None, reason="the jcas command is not installed beside this Python")
@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_a_file_name_that_is_not_utf8_is_printed_and_written_with_an_escape(data):
    from jcas.correction.folder import regions_table

    stem = os.fsdecode(b"caf\xe9")  # Latin-1, not UTF-8
    for folder in ("images", "masks"):
        (data / folder / "a.png").rename(data / folder / f"{stem}.png")
    before = state(data)
    done = subprocess.run([JCAS_SCRIPT, *map(str, correct_args(data, data / "out"))], capture_output=True,
                          timeout=600, env=os.environ | {"PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"})
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0 and "Traceback" not in stderr, stderr
    assert "caf\\udce9: " in stdout
    assert (data / "out" / f"{stem}.png").is_file()
    (data / "out" / "regions.csv").read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert inputs_kept(data, before)
    region = {"stem": stem, "index": 1, "slice": 0, "y0": 0, "x0": 0, "y1": 2, "x1": 2, "area": 4, "old_label": 0,
              "new_label": 1, "score": 0.9, "confidence": 0.8, "withheld": ""}
    assert regions_table([region]).decode("utf-8").splitlines()[1].startswith("caf\\udce9,1,0,")


# ---------------------------------------------------------------------------------------------
# The Python API: JCASInputError, never a raw exception.


def api_calls(model):
    image, mask = picture(classes(0), 0), classes(0).astype(np.uint8)
    images, masks = [image, picture(classes(1), 1)], [mask, classes(1).astype(np.uint8)]
    return [
        ("seed=-1", lambda: Trainer(images, masks, seed=-1), "seed must be at least 0"),
        ("seed=2**70", lambda: Trainer(images, masks, seed=2**70), "seed must be at least 0"),
        ("min_score='high'", lambda: correct(model, image, mask, min_score="high"), "min_score"),
        ("folds=1.5", lambda: Trainer(images, masks, folds=1.5), "folds must be a whole number"),
        ("folds='2'", lambda: Trainer(images, masks, folds="2"), "folds must be a whole number"),
        ("epochs=1.5", lambda: Trainer(images, masks, epochs=1.5), "epochs must be a whole number"),
        ("init_model=dict", lambda: Trainer(images, masks, init_model={}), "init_model is a dict"),
        ("init_model=member", lambda: Trainer(images, masks, init_model=model.members[0]), "one fold model"),
        ("config=dict", lambda: Trainer(images, masks, config=tiny_config().to_dict()), "config is a dict"),
        ("config=member", lambda: Trainer(images, masks, config=model.members[0]), "config is a JCASModel"),
        ("trusted longer", lambda: Trainer(images, masks, tiny_config(), trusted=[None] * 3), "3 trusted label"),
        ("uint64 label 2**63", lambda: Trainer(images, [mask.astype(np.uint64) * 2**63, masks[1]], tiny_config()),
         "largest label value"),
        ("load_checkpoint(None)", lambda: load_checkpoint(None), "not a NoneType"),
        ("load_checkpoint(bytes)", lambda: load_checkpoint(b"model.pt"), "not a bytes"),
        ("load_checkpoint(file)", lambda: load_checkpoint(open(os.devnull, "rb")), "not a BufferedReader"),
    ]


def test_the_python_api_raises_jcas_input_errors_only(models):
    model = load_checkpoint(models["plain"])
    calls = api_calls(model)
    assert len(calls) == 15
    for name, call, message in calls:
        with pytest.raises(JCASInputError, match=message):
            call()


@pytest.mark.parametrize("option, value, keyword", [("--seed", "-1", "seed"), ("--folds", "1.5", "folds"),
                                                    ("--folds", "0", "folds"), ("--epochs", "0", "epochs")])
def test_the_command_and_the_api_refuse_with_the_same_message(data, capsys, option, value, keyword):
    with pytest.raises(JCASInputError) as refused:
        make_config("jcas", "fast", **{keyword: float(value) if "." in value else int(value)})
    status, _, err = run(train_args(data, data / "m.pt") + [option, value], capsys)
    assert status == 2 and f"argument {option}:" in err
    api_message = str(refused.value)
    if "." in value:  # the command reads text, the API got a float: the rule is the same, the value's type not
        api_message = api_message.split(", got")[0]
    assert api_message in err


# ---------------------------------------------------------------------------------------------
# Wrong or silent before.


def stack_with_trusted(folder: Path) -> None:
    """A 4-slice stack whose mask holds class 2 in slice 0 only; the trusted labels confirm class 2 in slice 1."""
    index = np.stack([classes(seed) for seed in range(4)])
    mask = index.copy()
    mask[1:][mask[1:] == 2] = 1
    trusted = np.full(mask.shape, 255, dtype=np.uint8)
    trusted[1][index[1] == 2] = 2
    write_array(folder / "images" / "s.tif", np.stack([picture(index[z], z) for z in range(4)]))
    write_array(folder / "masks" / "s.tif", mask.astype(np.uint8))
    write_array(folder / "trusted" / "s.tif", trusted)


def test_trusted_labels_on_a_stack_are_checked_against_the_whole_stack(tmp_path, no_training, capsys):
    stack_with_trusted(tmp_path)
    before = state(tmp_path)
    status, _, err = run(["train", "--images", tmp_path / "images", "--masks", tmp_path / "masks", "--model",
                          tmp_path / "m.pt", "--trusted", tmp_path / "trusted", "--epochs", "1", "--folds", "1"],
                         capsys)
    assert status == 0, err
    assert inputs_kept(tmp_path, before)
    masks = [read_array(tmp_path / "masks" / "s.tif")]
    Trainer([read_array(tmp_path / "images" / "s.tif")], masks, tiny_config(),
            trusted=[read_array(tmp_path / "trusted" / "s.tif")])  # the API: the same rule
    wrong = read_array(tmp_path / "trusted" / "s.tif").copy()
    wrong[2, 0, 0] = 7
    with pytest.raises(JCASInputError, match=r"values \[7\] that are none of the training's classes \[0, 1, 2\]"):
        Trainer([read_array(tmp_path / "images" / "s.tif")], masks, tiny_config(), trusted=[wrong])


def test_a_confirmed_label_of_a_class_the_model_knows_is_taken_when_fine_tuning(models):
    model = load_checkpoint(models["plain"])
    image, index = picture(classes(0), 0), classes(0)
    mask = np.where(index == 2, 1, index).astype(np.uint8)  # the annotator never drew class 2 here
    confirmed = np.where(index == 2, 2, 255).astype(np.uint8)  # the reviewer accepted a class-2 proposal
    trainer = Trainer([image], [mask], init_model=model, epochs=1, trusted=[confirmed])
    assert trainer.label_map.values == (0, 1, 2)
    with pytest.raises(JCASInputError, match="none of the training's classes"):
        Trainer([image], [mask], tiny_config(), trusted=[confirmed])  # no model: 2 is no class of this training


def test_an_image_and_a_mask_with_different_spacing_get_a_warning(data, capsys):
    for folder in ("images", "masks"):
        (data / "spaced" / folder).mkdir(parents=True)
    for seed, stem in enumerate(("a", "b")):  # 2 and 4 pixels per unit: spacings 0.5 and 0.25
        tifffile.imwrite(data / "spaced" / "images" / f"{stem}.tif", picture(classes(seed), seed), resolution=(2, 2))
        tifffile.imwrite(data / "spaced" / "masks" / f"{stem}.tif", classes(seed).astype(np.uint8), resolution=(4, 4))
    before = state(data)
    status, _, err = run(correct_args(data, data / "out", images=data / "spaced" / "images",
                                      masks=data / "spaced" / "masks"), capsys)
    assert status == 0, err
    assert ("jcas correct: warning: a.tif / a.tif: the image states a pixel spacing of (0.5, 0.5), the mask "
            "(0.25, 0.25)") in err
    assert inputs_kept(data, before)


def test_under_torchrun_only_rank_0_prints_bad_input(data, monkeypatch, capsys):
    argv = train_args(data, data / "m.pt", masks="images")
    monkeypatch.setenv("RANK", "1")
    status, _, err = run(argv, capsys)
    assert status == 2 and err == ""
    status, _, err = run(train_args(data, data / "m.pt") + ["--folds", "0"], capsys)  # refused by the parser
    assert status == 2 and err == ""
    monkeypatch.setenv("RANK", "0")
    status, _, err = run(argv, capsys)
    assert status == 2 and "are the same" in err


# ---------------------------------------------------------------------------------------------
# Messages that said the wrong thing.


def test_init_model_folder_is_named_as_init_model(data, capsys):
    (data / "modeldir").mkdir()
    status, _, err = run(train_args(data, data / "m.pt") + ["--init-model", data / "modeldir"], capsys)
    assert status == 2 and "jcas train: error: --init-model: " in err and "is a folder, not a model file" in err
    assert "--model " not in err


def test_a_dangling_out_link_is_called_a_dangling_link(data, capsys):
    (data / "gone").symlink_to(data / "nowhere", target_is_directory=True)
    status, _, err = run(correct_args(data, data / "gone"), capsys)
    assert status == 2 and "is a link to" in err and "which does not exist" in err and "is a file" not in err


def test_a_legal_254_character_input_name_is_corrected(data, capsys):
    stem = "n" * 250  # "<stem>.png": 254 characters
    for folder in ("images", "masks"):
        (data / folder / "a.png").rename(data / folder / f"{stem}.png")
    before = state(data)
    status, _, err = run(correct_args(data, data / "out"), capsys)
    assert status == 0, err
    assert (data / "out" / f"{stem}.png").is_file() and (data / "out" / "disagreement" / f"{stem}.tif").is_file()
    assert inputs_kept(data, before) and leftovers(data) == []


def test_a_name_spelled_nfc_and_nfd_is_one_name(data, capsys):
    composed = unicodedata.normalize("NFC", "café")
    (data / "images" / "a.png").rename(data / "images" / f"{composed}.png")
    (data / "masks" / "a.png").rename(data / "masks" / f"{unicodedata.normalize('NFD', composed)}.png")
    before = state(data)
    status, _, err = run(correct_args(data, data / "out"), capsys)
    assert status == 0, err
    assert (data / "out" / f"{unicodedata.normalize('NFD', composed)}.png").is_file()  # the mask's own spelling
    assert inputs_kept(data, before)
    shutil.copy(data / "masks" / "b.png", data / "masks" / f"{composed}.png")  # both spellings in one folder
    status, _, err = run(correct_args(data, data / "out2"), capsys)
    assert status == 2 and "Unicode spelling" in err


def test_masks_without_any_class_are_called_so():
    with pytest.raises(JCASInputError, match="no class: every pixel is 255"):
        Trainer([picture(classes(0), 0)], [np.full((32, 32), 255, np.uint8)], tiny_config())
    with pytest.raises(JCASInputError, match=r"a single class \(0\)"):
        Trainer([picture(classes(0), 0)], [np.zeros((32, 32), np.uint8)], tiny_config())


def test_load_checkpoint_of_a_folder_says_it_is_a_folder(tmp_path):
    with pytest.raises(JCASInputError, match="is a folder, not a model file"):
        load_checkpoint(tmp_path)


def test_instance_masks_with_more_classes_than_the_limit_are_refused(data, capsys):
    instances = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)  # one value per pixel: 1023 classes and 255
    for stem in ("a", "b"):
        write_array(data / "instances" / f"{stem}.png", instances)
    before = state(data)
    status, _, err = run(train_args(data, data / "m.pt", masks="instances"), capsys)
    assert status == 2 and "the masks hold 1023 classes, more than the limit of 1000" in err
    assert "instance mask" in err and "JCAS_MAX_CLASSES=1023" in err
    status, _, err = run(["evaluate", "--pred", data / "instances", "--truth", data / "instances"], capsys)
    assert status == 2 and "the true masks hold 1023 classes" in err
    assert inputs_kept(data, before)
    with pytest.raises(JCASInputError, match="holds 1001 classes"):
        load_checkpoint(edited_model(data, lambda p: p.update(label_values=list(range(1001)))))


def test_a_pipe_named_as_a_mask_is_refused_not_read(data, capsys):
    (data / "masks" / "a.png").unlink()
    os.mkfifo(data / "masks" / "a.png")
    status, _, err = run(correct_args(data, data / "out"), capsys)
    assert status == 2 and "is not a regular file (a pipe, socket or device)" in err
    with pytest.raises(JCASInputError, match="is not a regular file"):
        load_checkpoint(data / "masks" / "a.png")


@pytest.mark.parametrize("tile, message", [(0, "tile must be at least 16"), (1.5, "tile must be a whole number")])
def test_a_tile_side_that_would_never_end_is_refused(models, tile, message):
    with pytest.raises(JCASInputError, match=message):
        correct(load_checkpoint(models["plain"]), picture(classes(0), 0), classes(0), tile=tile)


def test_save_checkpoint_refuses_what_is_not_a_path_or_not_a_model(models, tmp_path):
    from jcas.nn.checkpoint import save_checkpoint

    model = load_checkpoint(models["plain"])
    with pytest.raises(JCASInputError, match=r"save_checkpoint takes the path .* not a NoneType"):
        save_checkpoint(model, None)
    with pytest.raises(JCASInputError, match="not a dict"):
        save_checkpoint({}, tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []
