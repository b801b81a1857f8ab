"""Output safety: every file the core writes goes through this module.

It keeps four promises in one place:

- an output never lands on, or inside, an input file or folder, with or without
  ``--overwrite`` (:func:`check_clear_of_inputs`);
- an existing file is replaced only when asked (:func:`refuse_existing`), and a location
  that cannot be written is reported before any work starts (:func:`check_writable`);
- every file is written atomically, under a hidden temporary name in its own folder that
  is renamed into place, with the permissions the user's umask gives (:func:`atomic_write`);
- a run that writes several files writes all of them or none (:class:`OutputSet`): they
  are staged in a hidden folder on the same file system and moved into place at the end,
  replacing older files only then, and put back as they were when that fails.

Temporary files and folders are removed on every exit path, Ctrl+C included. Only a
process killed outright (``kill -9``, power loss) can leave one behind; their names start
with a dot and contain ``.jcas-``, and the outputs themselves are then left as they were.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from .errors import JCASOutputError

#: Marks the hidden temporary files and folders of this module.
TEMPORARY_MARK = ".jcas-"


def describe_os_error(error: OSError, with_path: bool = True) -> str:
    """A one-line account of an operating-system error, with the path it concerns and a hint.

    Parameters
    ----------
    error : OSError
    with_path : bool
        Start with the path the error names (when it names one).

    Returns
    -------
    str
        E.g. ``"out/a.png: No space left on device. Free some space or choose another location."``
    """
    where = f"{error.filename}: " if error.filename and with_path else ""
    reason = error.strerror or str(error) or type(error).__name__
    hints = {
        errno.ENOSPC: "Free some space or choose another location.",
        errno.EDQUOT: "Free some space or choose another location.",
        errno.EACCES: "Choose a location you can write to.",
        errno.EPERM: "Choose a location you can write to.",
        errno.EROFS: "The file system is read-only; choose another location.",
        errno.ENOTDIR: "A part of the path is a file, not a folder; choose another location.",
        errno.EISDIR: "It is a folder; give a file name.",
        errno.ENAMETOOLONG: "Choose a shorter path.",
    }
    hint = hints.get(error.errno, "Check the path and try again.")
    return f"{where}{reason}. {hint}"


def _suffix(path: Path) -> str:
    """The suffix a temporary file must keep for writers that go by it (``.nii.gz`` kept whole)."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix


#: The most characters of a target's name that its temporary name repeats: the temporary name stays
#: short whatever the target's, so that any name the file system allows can be written.
TEMPORARY_NAME_CHARS = 32
#: The longest file name, in bytes, where the file system does not say (most allow 255).
DEFAULT_NAME_MAX = 255


def name_max(folder: str | os.PathLike) -> int:
    """The longest file name, in bytes, that the file system of ``folder`` (or of its nearest existing
    ancestor) allows."""
    try:
        return os.pathconf(_nearest_existing(Path(folder)), "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no such query on this system
        return DEFAULT_NAME_MAX


def fitting_name(stem: str, ending: str, folder: str | os.PathLike) -> str:
    """``stem + ending``, with ``stem`` shortened as far as needed for the name to fit ``folder``'s file system."""
    room = name_max(folder) - len(os.fsencode(ending))
    while stem and len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return stem + ending


def _reserve(folder: Path, name: str, suffix: str) -> Path:
    """Create an empty hidden file in ``folder`` and return its path.

    Its name is short (:data:`TEMPORARY_NAME_CHARS` characters of ``name`` at most), so that it fits
    wherever ``name`` fits. It is created with mode 0o666, which the operating system narrows by the
    umask (unlike :func:`tempfile.mkstemp`, which always gives 0o600), so that the renamed file ends up
    with the permissions any other new file of the user would have.
    """
    while True:
        path = folder / f".{name[:TEMPORARY_NAME_CHARS]}{TEMPORARY_MARK}{secrets.token_hex(4)}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue


def _same_or_inside(path: Path, other: Path) -> bool:
    """Whether ``path`` is ``other`` or lies inside it (symbolic links and hard links followed)."""
    path, other = Path(path), Path(other)
    try:
        if path.exists() and other.exists() and os.path.samefile(path, other):
            return True
    except OSError:
        pass
    resolved, target = path.resolve(), other.resolve()
    return resolved == target or target in resolved.parents


def check_clear_of_inputs(outputs: Iterable[str | os.PathLike], inputs: Mapping[str, str | os.PathLike | None]) -> None:
    """Raise unless no output is, or lies inside, one of the inputs.

    This holds with or without ``--overwrite``: inputs are never written over.

    Parameters
    ----------
    outputs : iterable of path-like
        The output folder and every output file of a run.
    inputs : mapping of str to path-like or None
        What each input is called in messages (e.g. ``"the --masks folder"``) to its path;
        ``None`` entries are skipped.

    Raises
    ------
    JCASOutputError
        Naming the output and the input it would land on.
    """
    for output in outputs:
        for role, source in inputs.items():
            if source is None or not _same_or_inside(Path(output), Path(source)):
                continue
            place = "is" if Path(output).resolve() == Path(source).resolve() else "lies inside"
            raise JCASOutputError(
                f"{output} {place} {role} ({source}); outputs never go onto or into an input, with or "
                "without --overwrite. Choose an output location outside the inputs."
            )


def refuse_existing(paths: Iterable[str | os.PathLike], overwrite: bool) -> None:
    """Raise before anything is written when one of ``paths`` exists and ``overwrite`` is off.

    An existing folder where a file is to go is refused even with ``overwrite``.

    Raises
    ------
    JCASOutputError
        Listing (up to ten of) the files.
    """
    paths = [Path(p) for p in paths]
    folders = [p for p in paths if p.is_dir()]
    if folders:
        raise JCASOutputError(f"{folders[0]} is a folder where an output file is to go; remove or rename it, "
                              "or choose another output location.")
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not overwrite:
        shown = "\n".join(f"  {p}" for p in existing[:10]) + ("\n  ..." if len(existing) > 10 else "")
        raise JCASOutputError(f"{len(existing)} output file(s) exist already:\n{shown}\n"
                              "Choose another output or pass --overwrite.")


def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its nearest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not os.path.exists(path) and path != path.parent:  # os.path.exists: False for a name too long
        path = path.parent
    return path


def check_writable(path: str | os.PathLike, option: str, *, folder: bool) -> None:
    """Raise now, before any work, when ``path`` cannot be written.

    Missing folders on the way are fine (they are created when the outputs are written);
    a file on the way, a folder where a file should go (or the reverse), and a location
    that does not accept new files (read-only, no permission) are not.

    Parameters
    ----------
    path : path-like
        The output file or folder.
    option : str
        How the user named it, for messages (e.g. ``"--model"``).
    folder : bool
        Whether ``path`` is to be a folder (else a file).

    Raises
    ------
    JCASOutputError
    """
    path = Path(path)
    base = _nearest_existing(path)
    too_long = [part for part in Path(os.path.abspath(path)).relative_to(base).parts
                if len(os.fsencode(part)) > name_max(base)]
    if too_long:
        raise JCASOutputError(f"{option} {path}: the name {too_long[0]!r} is {len(os.fsencode(too_long[0]))} bytes, "
                              f"longer than the file system allows ({name_max(base)}); choose a shorter name.")
    if folder and path.is_symlink() and not path.exists():
        raise JCASOutputError(f"{option} {path} is a link to {os.readlink(path)}, which does not exist; remove the "
                              "link, or make the folder it points to.")
    if path.exists():
        if folder and not path.is_dir():
            raise JCASOutputError(f"{option} {path} is a file, not a folder; give a folder (it is created when "
                                  "missing).")
        if not folder and path.is_dir():
            raise JCASOutputError(f"{option} {path} is a folder; give the name of a file (inside it, or elsewhere).")
    existing = _nearest_existing(path if folder else path.parent)
    if not existing.is_dir():
        raise JCASOutputError(f"{option} {path}: {existing} is a file, not a folder, so {path} cannot be created. "
                              "Choose another location.")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=f".probe{TEMPORARY_MARK}")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise JCASOutputError(f"{option} {path}: cannot write in {existing} ({error.strerror or error}). "
                              "Choose a location you can write to.") from error


def make_folder(folder: str | os.PathLike) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those it created, outermost first.

    Raises
    ------
    JCASOutputError
        When a part of the path is a file or the folder cannot be created.
    """
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise JCASOutputError(f"{probe} is a file, not a folder, so {folder} cannot be created. "
                              "Choose another location.")
    created = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                if path.is_dir():  # made meanwhile by someone else
                    continue
                raise
            created.append(path)
    except OSError as error:
        _remove_empty(created)
        raise JCASOutputError(f"cannot create the folder {folder}: {describe_os_error(error)}") from error
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders of ``folders`` that are empty, innermost first; never raises."""
    for path in reversed(folders):
        try:
            path.rmdir()
        except OSError:
            pass


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], *, overwrite: bool = False) -> Path:
    """Write a file atomically: ``write`` fills a hidden temporary file that is then renamed to ``path``.

    A failure or an interrupt at any point leaves ``path`` as it was (absent, or the old
    file) and no temporary file behind. The new file gets the permissions the umask gives
    (0o644 under the usual umask 022), as any file the user creates would.

    Parameters
    ----------
    path : path-like
        The target; its missing parent folders are created.
    write : callable
        Called with the temporary path (already created, empty, with the target's suffix,
        in the target's folder); writes the content there.
    overwrite : bool
        Replace an existing file; without it an existing file raises.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    JCASOutputError
        An existing file without ``overwrite``, a folder at ``path``, or an operating-system
        error while writing (disk full, no permission), with what to do about it.
    """
    path = Path(path)
    if path.is_dir():
        raise JCASOutputError(f"{path} is a folder; give a file name.")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise JCASOutputError(f"{path} exists; refusing to overwrite it. Choose another path or allow overwriting.")
    created = make_folder(path.parent)
    temporary = None
    try:
        temporary = _reserve(path.parent, path.name, _suffix(path))
        write(temporary)
        _sync(temporary)
        os.replace(temporary, path)
    except OSError as error:
        _discard(temporary)
        _remove_empty(created)
        raise JCASOutputError(f"cannot write {path}: {describe_os_error(error, with_path=False)}") from error
    except BaseException:
        _discard(temporary)
        _remove_empty(created)
        raise
    return path


def _sync(path: Path) -> None:
    """Flush a written file to disk, so that the rename never publishes an empty file after a crash."""
    handle = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)  # Windows syncs writable handles only
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _discard(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


class OutputSet:
    """The files of one run, staged together and moved into place all at once.

    Use it as a context manager around the whole run: write every output to
    ``outputs.path(target)`` instead of ``target``. When the block ends normally the
    staged files are moved to their targets (replacing older ones only then, and putting
    those back if a move fails); when it ends with an exception, Ctrl+C included, nothing
    under ``root`` changes and the staging folder is removed.

    >>> with OutputSet(out, overwrite=False) as outputs:        # doctest: +SKIP
    ...     write_array(outputs.path(out / "a.png"), mask)

    Parameters
    ----------
    root : path-like
        The output folder; created (with its missing parents) on entering, which also
        shows early that it can be written. The staging folder is a hidden folder inside
        it, so that every move stays on one file system.
    overwrite : bool
        Replace files that exist at the end; without it, a file that appeared meanwhile
        stops the commit (and nothing is moved).
    resumable : str, optional
        Stage in the hidden folder of this name (``root/.jcas-<name>``), kept when the block ends with
        an exception (Ctrl+C included) so that a later run can pick up the files already staged there
        (:attr:`resumed`); without it the staging folder is new each time and removed on any exit.
    """

    def __init__(self, root: str | os.PathLike, *, overwrite: bool = False, resumable: str | None = None):
        self.root = Path(root)
        self.overwrite = overwrite
        self.resumable = resumable
        self.resumed = False
        self.staging: Path | None = None
        self._targets: dict[Path, Path] = {}
        self._created: list[Path] = []

    @property
    def kept_staging(self) -> Path | None:
        """The staging folder a resumable run keeps when stopped (None for a run that is not resumable)."""
        return self.root / f"{TEMPORARY_MARK}{self.resumable}" if self.resumable else None

    def __enter__(self) -> "OutputSet":
        self._created = make_folder(self.root)
        try:
            if self.resumable:
                self.resumed = self.kept_staging.is_dir()
                self.kept_staging.mkdir(exist_ok=True)
                self.staging = self.kept_staging
            else:
                self.staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f"{TEMPORARY_MARK}staging-"))
        except OSError as error:
            _remove_empty(self._created)
            raise JCASOutputError(f"cannot write in {self.root}: {describe_os_error(error)}") from error
        return self

    def path(self, target: str | os.PathLike) -> Path:
        """Where to write ``target`` (a path inside ``root``) for now.

        Returns
        -------
        pathlib.Path
            A path inside the staging folder; its parent folders exist.
        """
        if self.staging is None:
            raise RuntimeError("OutputSet.path() is only valid inside the with block")
        target = Path(os.path.abspath(target))
        root = Path(os.path.abspath(self.root))
        if target == root or root not in target.parents:
            raise ValueError(f"{target} is not inside the output folder {root}")
        staged = self.staging / target.relative_to(root)
        staged.parent.mkdir(parents=True, exist_ok=True)
        self._targets[target] = staged
        return staged

    def __exit__(self, kind, error, trace) -> None:
        staging = self.staging
        stopped = kind is not None
        try:
            if kind is None:
                try:
                    self.commit()
                except BaseException:
                    stopped = True
                    raise
        finally:
            kept = stopped and self.resumable is not None
            if self.staging is not None and not kept:
                shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
            if kind is not None and not kept:
                _remove_empty(self._created)
        if isinstance(error, (OSError, JCASOutputError)):
            # Name the real target, not its hidden staged copy, and say that nothing changed.
            text = describe_os_error(error) if isinstance(error, OSError) else str(error)
            text = text.replace(str(staging), str(self.root)) if staging is not None else text
            raise JCASOutputError(f"{text} Nothing was written to {self.root}.") from error

    def discard_kept(self) -> None:
        """After a resumable set was stopped: remove its kept staging folder and the folders it made, when
        nothing in it is worth resuming."""
        if self.kept_staging is not None:
            shutil.rmtree(self.kept_staging, ignore_errors=True)
        _remove_empty(self._created)

    def commit(self) -> list[Path]:
        """Move the staged files into place (called on leaving the ``with`` block normally).

        Returns
        -------
        list of pathlib.Path
            The targets written.

        Raises
        ------
        JCASOutputError
            When a target cannot be replaced; every target is then as it was before.
        """
        staged = {target: path for target, path in self._targets.items() if path.is_file()}
        for target in staged:
            if target.is_dir():
                raise JCASOutputError(f"{target} is a folder where an output file is to go; nothing was written. "
                                      "Remove or rename it and run again.")
            if (target.exists() or target.is_symlink()) and not self.overwrite:
                raise JCASOutputError(f"{target} appeared while this run was working; nothing was written. "
                                      "Run again with --overwrite or choose another output.")
        backups = self.staging / f"{TEMPORARY_MARK}replaced"
        done: list[tuple[Path, Path, Path | None, bool]] = []
        created: list[Path] = []
        try:
            for index, (target, path) in enumerate(sorted(staged.items())):
                created += make_folder(target.parent)
                backup = None
                if target.exists() or target.is_symlink():
                    backup = backups / str(index)
                    backup.parent.mkdir(exist_ok=True)
                    os.replace(target, backup)
                done.append((target, path, backup, False))
                os.replace(path, target)
                done[-1] = (target, path, backup, True)
        except BaseException as error:
            for target, path, backup, placed in reversed(done):
                try:
                    if placed:
                        os.replace(target, path)  # back to staging: a resumable run finds it there again
                    if backup is not None:
                        os.replace(backup, target)
                except OSError:
                    pass
            _remove_empty(created)
            if isinstance(error, OSError):
                raise JCASOutputError(f"cannot move the results into {self.root}: {describe_os_error(error)} "
                                      "Nothing was changed there.") from error
            raise
        return sorted(staged)


def _taken(path: Path) -> bool:
    """Whether ``path`` cannot be used for a new file: it exists (a dangling link too) or cannot even be looked at."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError:  # a name too long, a file on the way: not a place to save to
        return True
    return True


def recovery_paths(path: str | os.PathLike) -> Iterator[Path]:
    """Places to save a file that could not be written at ``path``: beside it, then in a new temporary folder.

    Every name fits its file system (the stem is shortened when needed). A temporary folder that
    is left empty (the save into it failed or was interrupted) is removed again.

    Yields
    ------
    pathlib.Path
        ``<stem>.recovered<suffix>`` beside ``path`` (numbered when taken), then
        ``<temporary folder>/jcas-recovered-*/<name>``.
    """
    path = Path(path)
    suffix = _suffix(path)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    for number in range(1, 100):
        ending = f".recovered{'' if number == 1 else f'-{number}'}{suffix}"
        candidate = path.parent / fitting_name(stem, ending, path.parent)
        if not _taken(candidate):
            yield candidate
            break
    try:
        folder = Path(tempfile.mkdtemp(prefix="jcas-recovered-"))
    except OSError:
        return
    try:
        yield folder / fitting_name(stem, suffix, folder)
    finally:
        _remove_empty([folder])


def save_with_recovery(save: Callable[[Path], object], path: str | os.PathLike, what: str = "model") -> Path:
    """Save something that took long to make; when ``path`` fails, save it elsewhere and say where.

    Parameters
    ----------
    save : callable
        Called with a path; writes the file there (atomically) or raises.
    path : path-like
        Where the user asked for it.
    what : str
        What it is, for the message.

    Returns
    -------
    pathlib.Path
        ``path``, when that worked.

    Raises
    ------
    JCASOutputError
        When ``path`` failed: the message names the reason and the recovery path the file
        was saved to instead, or says plainly that it is lost, and why.
    """
    path = Path(path)
    try:
        save(path)
        return path
    except (OSError, JCASOutputError) as error:
        reason = describe_os_error(error) if isinstance(error, OSError) else str(error)
    tried = []
    for candidate in recovery_paths(path):
        try:
            save(candidate)
        except (OSError, JCASOutputError) as error:
            failure = describe_os_error(error, with_path=False) if isinstance(error, OSError) else str(error)
            tried.append(f"{candidate} ({failure})")
            continue
        raise JCASOutputError(f"could not save the {what} to {path} ({reason}). It was saved to {candidate} "
                              "instead; move it where you want it.")
    raise JCASOutputError(f"could not save the {what} to {path} ({reason}), nor to "
                          f"{' or '.join(tried) or 'a temporary folder (none could be made)'}: the {what} is lost. "
                          "Free some space or choose a location you can write to, and run again.")
