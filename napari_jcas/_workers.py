"""Run the core's generators (training, correction) in napari thread workers.

The worker code only iterates a generator from the core; it never touches a Qt widget.
Results reach the widgets through the worker's signals (``yielded``, ``returned``,
``errored``, ``finished``), which napari delivers on the GUI thread. Errors raised in the
worker become napari error notifications here; ``finished`` always follows, so the widgets
restore their controls there.
"""
from __future__ import annotations

import os
from typing import Callable, Generator, Iterator

from napari.qt.threading import GeneratorWorker, create_worker
from napari.utils.notifications import show_error


def torch_threads() -> int:
    """Threads for torch in the worker: all cores but one, which stays with the viewer."""
    return max(1, (os.cpu_count() or 2) - 1)


class WorkerError(Exception):
    """An error raised by the core inside a worker (carries the original as ``__cause__``)."""


def _relay(steps: Iterator, threads: int) -> Generator:
    """Yield what ``steps`` yields, in the worker thread; return what it returns.

    A ``RuntimeError`` (torch raises them, e.g. for running out of memory) is re-raised as
    :class:`WorkerError`: superqt's workers take a ``RuntimeError`` for a deleted worker and
    would drop both the error and the ``finished`` signal.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # torch's pool is the process's: given back when the worker ends
    try:
        return (yield from steps)
    except RuntimeError as error:
        raise WorkerError(f"{type(error).__name__}: {error}") from error
    finally:
        torch.set_num_threads(previous)


def start_worker(
    steps: Iterator,
    *,
    total: int,
    description: str,
    task: str,
    on_yielded: Callable | None = None,
    on_returned: Callable | None = None,
    on_errored: Callable | None = None,
    on_finished: Callable | None = None,
) -> GeneratorWorker:
    """Iterate ``steps`` in a napari worker with a progress bar of ``total`` yields.

    Parameters
    ----------
    steps : iterator
        A generator from the core (``Trainer.run()``, ``iter_correct(...)``).
    total : int
        Expected number of yields, for napari's progress bar.
    description : str
        The progress bar's first label.
    task : str
        What the work is ("Training"), for the error notification "<task> failed: ...".
    on_yielded, on_returned, on_errored, on_finished : callable, optional
        Slots for the worker's signals (run on the GUI thread).

    Returns
    -------
    GeneratorWorker
        The started worker; ``quit()`` stops it at the next yield.
    """
    def report(error: Exception) -> None:
        show_error(f"{task} failed: {error}")
        if on_errored is not None:
            on_errored(error)

    handlers = {"yielded": on_yielded, "returned": on_returned, "errored": report, "finished": on_finished}
    connect = {name: slot for name, slot in handlers.items() if slot is not None}
    return create_worker(
        _relay, steps, torch_threads(),
        _progress={"total": total, "desc": description},
        _connect=connect,
        _start_thread=True,
    )
