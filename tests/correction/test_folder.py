"""`jcas correct` on a folder: quality.csv worst first, the HTML report, and a run stopped part-way that resumes."""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jcas.cli import main
from jcas.data.io import read_array, write_array
from jcas.settings import make_config
from jcas.training.trainer import Trainer

JCAS_SCRIPT = shutil.which("jcas", path=str(Path(sys.executable).parent))
CHROMIUM = next(filter(None, map(shutil.which, ("chromium-headless-shell", "chromium", "chromium-browser"))), None)
#: The file whose white matter is drawn as grey matter: the worst mask of the folder.
DAMAGED = "slice5"


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mni):
    """Images and masks of the MNI sample as PNG files, one mask badly drawn, and a model trained on them."""
    root = tmp_path_factory.mktemp("folder")
    images, masks = mni
    drawn = masks.copy()
    drawn[5][drawn[5] == 2] = 1  # the whole white matter of one slice drawn as grey matter
    for z in range(len(images)):
        write_array(root / "images" / f"slice{z}.png", images[z])
        write_array(root / "masks" / f"slice{z}.png", drawn[z].astype(np.uint8))
    trainer = Trainer([images], [drawn], make_config("jcas", "fast", epochs=6, batch_size=4, crop=64, min_steps=1))
    for _ in trainer.run():
        pass
    trainer.save(root / "model.pt")
    return root


def correct_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["correct", "--model", str(root / "model.pt"), "--images", str(root / "images"), "--masks",
            str(root / "masks"), "--out", str(out), *extra]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "report.html"}


def read_quality(out: Path) -> list[dict]:
    with open(out / "quality.csv", newline="", encoding="utf-8") as table:
        return list(csv.DictReader(table))


def test_quality_csv_ranks_the_badly_drawn_mask_first_and_the_report_shows_it(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(correct_args(folder, out)) == 0
    assert "quality.csv and report.html" in capsys.readouterr().out
    rows = read_quality(out)
    assert [row["stem"] for row in rows][0] == DAMAGED, rows
    assert sorted(row["stem"] for row in rows) == sorted(f"slice{z}" for z in range(8))
    estimates = [float(row["estimated_dice"]) for row in rows]
    assert estimates == sorted(estimates)
    assert {"dice_0", "dice_1", "dice_2", "estimated_dice_after", "likely_wrong", "proposals"} <= set(rows[0])
    assert float(rows[0]["dice_2"]) < float(rows[-1]["dice_2"]), "the white matter is the damaged class"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('class="card"') == 8 and page.index(f">{DAMAGED}</a>") < page.index(">slice0</a>" if
                                                                                           DAMAGED != "slice0" else ">slice1</a>")
    assert "<svg" in page and "data:image/png;base64," in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched: it opens offline


def test_a_stack_gets_a_row_per_slice_under_its_file_row(folder, tmp_path, mni):
    images, masks = mni
    stack = tmp_path / "stack"
    write_array(stack / "images" / "brain.tif", images)
    write_array(stack / "masks" / "brain.tif", read_stack(folder))
    shutil.copy(folder / "model.pt", stack / "model.pt")
    assert main(correct_args(stack, stack / "out")) == 0
    rows = read_quality(stack / "out")
    assert sorted(row["slice"] for row in rows) == sorted(["all"] + [str(z + 1) for z in range(8)])
    assert min(rows, key=lambda row: float(row["estimated_dice"]))["slice"] == "6"  # slice5, counted from 1


def read_stack(folder: Path) -> np.ndarray:
    return np.stack([read_array(folder / "masks" / f"slice{z}.png") for z in range(8)])


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (apt chromium-headless-shell)")
def test_the_report_renders_in_a_real_browser(folder, tmp_path):
    out = tmp_path / "out"
    assert main(correct_args(folder, out)) == 0
    shot = Path(os.environ.get("JCAS_REPORT_SCREENSHOT", tmp_path / "report.png"))
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", "--window-size=1366,768", (out / "report.html").as_uri()],
                          capture_output=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr.decode()
    from PIL import Image

    picture = np.asarray(Image.open(shot).convert("RGB"))
    assert picture.shape[:2] == (768, 1366)
    assert (picture < 100).all(axis=-1).mean() > 0.005, "text and pictures drawn, not a blank page"
    assert (np.abs(picture.astype(int) - [59, 125, 216]).sum(axis=-1) < 30).sum() > 50, "the histogram's bars"


@pytest.mark.skipif(JCAS_SCRIPT is None, reason="the jcas command is not installed beside this Python")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_run_stopped_part_way_resumes_without_redoing_finished_files(folder, tmp_path, stop):
    whole = tmp_path / "whole"
    assert main(correct_args(folder, whole)) == 0
    out = tmp_path / "out"
    run = subprocess.Popen([JCAS_SCRIPT, *correct_args(folder, out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, preexec_fn=default_interrupts)
    finished = run.stdout.readline()  # one file done
    run.send_signal(stop)
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 130, stderr
    assert finished.startswith("slice") and "the same command with --resume goes on" in stdout, stdout
    assert [p.name for p in out.iterdir()] == [".jcas-correct-partial"], "nothing in place until the end"

    done = subprocess.run([JCAS_SCRIPT, *correct_args(folder, out, "--resume")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    redone = [line for line in done.stdout.splitlines() if line.startswith("slice")]
    assert len(redone) <= 8 - 1 and "from the stopped run" in done.stdout
    assert digest(out) == digest(whole), "the resumed run writes what an uninterrupted one writes"
    assert not (out / ".jcas-correct-partial").exists()


def default_interrupts() -> None:
    """Ctrl+C as a terminal delivers it: a test run started in the background of a shell ignores SIGINT, and
    its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_resuming_with_another_model_or_setting_is_refused_and_without_resume_starts_over(folder, tmp_path, capsys):
    out = tmp_path / "out"
    partial = out / ".jcas-correct-partial"
    partial.mkdir(parents=True)
    (partial / "progress").mkdir()
    (partial / "progress" / "run.json").write_text('{"model": ["elsewhere", 1, 1], "min_area": null, '
                                                   '"min_score": 0.6, "min_confidence": 0.6, "mirror": false}')
    assert main(correct_args(folder, out, "--resume")) == 2
    err = capsys.readouterr().err
    assert "another model" in err and "without --resume to start over" in err
    assert main(correct_args(folder, out)) == 0
    assert "starting over" in capsys.readouterr().out and not partial.exists()
    assert len(read_quality(out)) == 8
