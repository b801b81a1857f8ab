import numpy as np
import pytest

from jcas.data.io import (StackWriter, affine_of_spacing, file_stem, read_array, read_with_affine, spacing_of_affine,
                         write_array)
from jcas.errors import JCASInputError


@pytest.mark.parametrize("suffix, dtype", [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint16),
                                           (".nii.gz", np.uint8)])
def test_round_trip_keeps_values_shape_and_dtype(tmp_path, suffix, dtype):
    data = (np.arange(6 * 7).reshape(6, 7) % 5).astype(dtype)
    if suffix == ".nii.gz":
        data = np.stack([data, data[::-1]])
    affine = np.diag([0.5, 0.5, 2.0, 1.0])
    path = write_array(tmp_path / f"x{suffix}", data, affine=affine)
    back, back_affine = read_with_affine(path)
    assert back.dtype == dtype and np.array_equal(back, data)
    if suffix == ".nii.gz":
        assert np.allclose(back_affine, affine)
    assert file_stem(path) == "x"


def test_refuses_to_overwrite_and_leaves_the_file_alone(tmp_path):
    path = write_array(tmp_path / "m.png", np.zeros((3, 3), dtype=np.uint8))
    before = path.read_bytes()
    with pytest.raises(JCASInputError, match="refusing to overwrite"):
        write_array(path, np.ones((3, 3), dtype=np.uint8))
    assert path.read_bytes() == before
    write_array(path, np.ones((3, 3), dtype=np.uint8), overwrite=True)
    assert path.read_bytes() != before


def test_failed_write_leaves_no_partial_file(tmp_path):
    with pytest.raises(JCASInputError, match="PNG holds"):
        write_array(tmp_path / "m.png", np.zeros((3, 3), dtype=np.float64))
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"this is not a TIFF file")
    with pytest.raises(JCASInputError, match="cannot be read"):
        read_with_affine(path)


# --- output safety (jcas.outputs) -------------------------------------------------------------

import errno  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402

from PIL import Image  # noqa: E402

import jcas.outputs  # noqa: E402
from jcas.data.io import write_bytes_atomic  # noqa: E402
from jcas.errors import JCASOutputError  # noqa: E402
from jcas.outputs import (OutputSet, atomic_write, check_clear_of_inputs, check_writable,  # noqa: E402
                          save_with_recovery)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_permissions_the_umask_gives(tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        image = write_array(tmp_path / "m.png", np.zeros((3, 3), dtype=np.uint8))
        volume = write_array(tmp_path / "v.nii.gz", np.zeros((2, 3, 3), dtype=np.uint8))
        raw = write_bytes_atomic(tmp_path / "r.csv", b"a,b\n")
    finally:
        os.umask(previous)
    assert [mode_of(p) for p in (image, volume, raw)] == [expected] * 3


def test_atomic_write_leaves_the_old_file_and_no_temporary_file_on_any_failure(tmp_path):
    path = write_bytes_atomic(tmp_path / "x.json", b"old")

    def fail(temporary, error):
        temporary.write_bytes(b"half")
        raise error

    for error in (KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")):
        with pytest.raises((KeyboardInterrupt, JCASOutputError)):
            atomic_write(path, lambda t, e=error: fail(t, e), overwrite=True)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    with pytest.raises(JCASOutputError, match="No space left on device. Free some space"):
        atomic_write(path, lambda t: fail(t, OSError(errno.ENOSPC, "No space left on device")), overwrite=True)


def test_one_bit_and_empty_files_are_read_sensibly(tmp_path):
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "one_bit.png")
    mask = read_with_affine(tmp_path / "one_bit.png")[0]
    assert mask.dtype == np.uint8 and mask.tolist() == np.eye(8, dtype=np.uint8).tolist()
    (tmp_path / "header.tif").write_bytes(b"II*\x00\x08\x00\x00\x00")
    with pytest.raises(JCASInputError, match=r"holds no image \(shape \(0,\)\)"):
        read_with_affine(tmp_path / "header.tif")
    with pytest.raises(JCASInputError, match="is a folder, not a file"):
        read_with_affine(tmp_path)


def test_outputs_may_not_land_on_or_inside_an_input(tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "a.png").write_bytes(b"mask")
    (tmp_path / "link").symlink_to(masks, target_is_directory=True)
    os.link(masks / "a.png", tmp_path / "hard.png")
    inputs = {"the --masks folder": masks, "no input": None}
    for output in (masks, masks / "sub" / "x.png", tmp_path / "link" / "x.png", masks / "a.png"):
        with pytest.raises(JCASOutputError, match="the --masks folder"):
            check_clear_of_inputs([output], inputs)
    with pytest.raises(JCASOutputError, match="the --model file"):
        check_clear_of_inputs([tmp_path / "hard.png"], {"the --model file": masks / "a.png"})
    check_clear_of_inputs([tmp_path, tmp_path / "out" / "a.png", tmp_path / "masks2"], inputs)  # beside is fine


def test_locations_that_cannot_be_written_are_reported_up_front(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(JCASOutputError, match="is a file, not a folder"):
        check_writable(tmp_path / "file", "--out", folder=True)
    with pytest.raises(JCASOutputError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "model.pt", "--model", folder=False)
    with pytest.raises(JCASOutputError, match="is a folder"):
        check_writable(tmp_path, "--model", folder=False)
    check_writable(tmp_path / "new" / "deeper", "--out", folder=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"], "a check creates nothing"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_reported_up_front(tmp_path):
    (tmp_path / "locked").mkdir(mode=0o555)
    with pytest.raises(JCASOutputError, match="cannot write in"):
        check_writable(tmp_path / "locked" / "model.pt", "--model", folder=False)


def test_an_output_set_is_written_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    with OutputSet(out) as outputs:
        write_array(outputs.path(out / "a.png"), np.zeros((3, 3), dtype=np.uint8))
        write_bytes_atomic(outputs.path(out / "sub" / "b.csv"), b"old")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.png", "sub", "sub/b.csv"]
    for error in (KeyboardInterrupt, RuntimeError):
        with pytest.raises(error):
            with OutputSet(out, overwrite=True) as outputs:
                write_bytes_atomic(outputs.path(out / "sub" / "b.csv"), b"new")
                raise error
    assert (out / "sub" / "b.csv").read_bytes() == b"old"
    with pytest.raises(RuntimeError):
        with OutputSet(tmp_path / "new" / "deeper") as outputs:
            write_bytes_atomic(outputs.path(tmp_path / "new" / "deeper" / "c.csv"), b"x")
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no folder made, no staging left"
    assert not [p for p in out.rglob("*") if ".jcas-" in p.name]


def test_a_commit_that_fails_halfway_puts_the_old_files_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    for name in ("a.csv", "b.csv", "c.csv"):
        write_bytes_atomic(out / name, b"old " + name.encode())
    real_replace, moves = os.replace, []

    def replace(source, target):
        if ".jcas-staging-" in str(source) and ".jcas-staging-" not in str(target):  # a staged file into place
            moves.append(target)
            if len(moves) == 3:
                raise OSError(errno.EIO, "Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(jcas.outputs.os, "replace", replace)
    with pytest.raises(JCASOutputError, match="Nothing was changed there"):
        with OutputSet(out, overwrite=True) as outputs:
            for name in ("a.csv", "b.csv", "c.csv"):
                write_bytes_atomic(outputs.path(out / name), b"new")
    names = ("a.csv", "b.csv", "c.csv")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {name: b"old " + name.encode() for name in names}


def test_a_resumable_set_keeps_every_staged_file_when_stopped_even_halfway_through_its_commit(tmp_path, monkeypatch):
    out = tmp_path / "out"
    names = ("a.csv", "b.csv", "c.csv")
    with pytest.raises(KeyboardInterrupt):
        with OutputSet(out, resumable="run") as outputs:
            write_bytes_atomic(outputs.path(out / "a.csv"), b"new a")
            raise KeyboardInterrupt
    assert [p.name for p in out.iterdir()] == [".jcas-run"] and (out / ".jcas-run" / "a.csv").read_bytes() == b"new a"
    real_replace, moves = os.replace, []

    def replace(source, target):
        if ".jcas-run" in str(source) and ".jcas-run" not in str(target):  # a staged file into place
            moves.append(target)
            if len(moves) == 3:
                raise KeyboardInterrupt
        return real_replace(source, target)

    monkeypatch.setattr(jcas.outputs.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with OutputSet(out, resumable="run") as outputs:
            assert outputs.resumed
            for name in names:
                if not outputs.path(out / name).exists():
                    write_bytes_atomic(outputs.path(out / name), f"new {name[0]}".encode())
    assert [p.name for p in out.iterdir()] == [".jcas-run"], "nothing in place"
    monkeypatch.setattr(jcas.outputs.os, "replace", real_replace)
    with OutputSet(out, resumable="run") as outputs:
        for name in names:
            outputs.path(out / name)  # every file is staged already
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {name: f"new {name[0]}".encode() for name in names}


def test_save_with_recovery_says_where_the_file_went(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setattr(jcas.outputs.tempfile, "tempdir", str(tmp_path))

    def save(path):
        write_bytes_atomic(path, b"weights")

    with pytest.raises(JCASOutputError, match=r"saved to .*jcas-recovered-.*model\.pt instead") as error:
        save_with_recovery(save, blocked / "model.pt")
    recovered = next(tmp_path.glob("jcas-recovered-*/model.pt"))
    assert recovered.read_bytes() == b"weights" and str(recovered) in str(error.value)
    assert save_with_recovery(save, tmp_path / "fine.pt") == tmp_path / "fine.pt"


def test_voxel_spacing_of_a_nifti_affine_in_the_slices_first_order_and_back():
    affine = np.diag([0.5, 0.7, 2.5, 1.0])  # X, Y, Z
    assert spacing_of_affine(affine, 3) == (2.5, 0.5, 0.7)  # the data is (Z, X, Y)
    assert spacing_of_affine(affine, 2) == (0.5, 0.7)
    assert spacing_of_affine(None, 3) == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(affine_of_spacing((2.5, 0.5, 0.7), 3), affine)
    np.testing.assert_array_equal(affine_of_spacing(None, 2), np.eye(4))
    rotated = np.array([[0, -0.5, 0, 10], [0.5, 0, 0, 20], [0, 0, 3, 30], [0, 0, 0, 1]], dtype=float)
    assert spacing_of_affine(rotated, 3) == (3.0, 0.5, 0.5)


def test_tiff_pixel_spacing_is_read_and_written(tmp_path):
    import tifffile

    stack = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    written = write_array(tmp_path / "stack.tif", stack, affine=affine_of_spacing((2.5, 0.8, 0.4), 3))
    data, affine = read_with_affine(written)
    np.testing.assert_array_equal(data, stack)
    np.testing.assert_allclose(spacing_of_affine(affine, 3), (2.5, 0.8, 0.4))
    # a stack saved by ImageJ (Fiji): resolution tags in pixels per micron, Z in its metadata
    tifffile.imwrite(tmp_path / "fiji.tif", stack, imagej=True, resolution=(2.0, 4.0),
                     metadata={"spacing": 3.0, "unit": "micron"})
    np.testing.assert_allclose(spacing_of_affine(read_with_affine(tmp_path / "fiji.tif")[1], 3), (3.0, 0.25, 0.5))
    # a file that states no spacing, and a colour image, get none
    assert read_with_affine(write_array(tmp_path / "plain.tif", stack[0]))[1] is None
    colour = np.zeros((4, 5, 3), dtype=np.uint8)
    assert read_with_affine(write_array(tmp_path / "rgb.tif", colour, affine=affine_of_spacing((2.0, 2.0), 2)))[1] is None


def test_a_stack_written_slice_by_slice_reads_back_as_one_stack(tmp_path):
    stack = np.random.default_rng(0).random((5, 20, 30)).astype(np.float32)
    with StackWriter(tmp_path / "new" / "heat.tif", stack.shape, np.float32) as writer:
        for page in stack:
            writer.write(page)
    np.testing.assert_array_equal(read_array(tmp_path / "new" / "heat.tif"), stack)
    with pytest.raises(RuntimeError, match="3 of 5 slices were written"):
        with StackWriter(tmp_path / "short.tif", stack.shape, np.float32) as writer:
            for page in stack[:3]:
                writer.write(page)
    with pytest.raises(KeyboardInterrupt):  # an interrupt stops the writer's thread too
        with StackWriter(tmp_path / "stopped.tif", stack.shape, np.float32) as writer:
            writer.write(stack[0])
            raise KeyboardInterrupt
    assert not writer._thread.is_alive()
    with pytest.raises(ValueError, match=r"is \(20, 20\), not \(20, 30\)"):
        with StackWriter(tmp_path / "wrong.tif", stack.shape, np.float32) as writer:
            writer.write(stack[0, :, :20])
