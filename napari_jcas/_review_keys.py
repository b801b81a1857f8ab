"""The Review dock's key bindings: the review keys on the viewer while the dock is open, and Ctrl+Z on the
plugin's own Labels layers.

Each callback holds its dock's method by a weak reference, so the viewer's keymap never keeps a closed dock alive.
"""
from __future__ import annotations

import weakref
from typing import Callable

from napari.layers import Labels
from napari.utils.key_bindings import KeyBinding

from ._layers import is_input

#: Review actions: (action, key binding).
KEYS = {"accept": "Shift-A", "reject": "Shift-R", "previous": "Shift-P", "next": "Shift-N"}
#: Undoes the last change to the labels under review (a decision, a brush stroke), whichever layer is selected.
UNDO_KEY = "Control-Z"


class ReviewKeys:
    """The key bindings of one Review dock.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    actions : dict of str to callable
        The dock's bound methods for each action of :data:`KEYS` and for "undo"; held by weak references.
    """

    def __init__(self, viewer, actions: dict[str, Callable[[], None]]):
        self.viewer = viewer
        self.callbacks = {KEYS.get(action, UNDO_KEY): _key_callback(action, slot) for action, slot in actions.items()}

    def bind(self) -> None:
        """Bind the review keys on the viewer (the dock is open)."""
        for key, callback in self.callbacks.items():
            self.viewer.bind_key(key, callback, overwrite=True)

    def unbind(self) -> None:
        """Remove the review keys from the viewer (the dock is closed)."""
        _unbind_keys(self.viewer, self.callbacks)

    def unbind_when_destroyed(self, widget) -> None:
        """Remove the review keys once ``widget`` is destroyed (by a slot that holds neither it nor this object)."""
        widget.destroyed.connect(_key_unbinder(self.viewer, self.callbacks))

    def take_undo_key(self, layer) -> None:
        """Make Ctrl+Z undo the review on one of the plugin's own Labels layers (a proposal, the boundaries),
        whose own Ctrl+Z would otherwise undo nothing while it is selected. The cleaned labels under review
        undo themselves, and a person's own Labels layer keeps its own Ctrl+Z (its brush strokes)."""
        if isinstance(layer, Labels) and not is_input(layer):
            layer.bind_key(UNDO_KEY, self.callbacks[UNDO_KEY], overwrite=True)


def _key_callback(action: str, slot):
    """A named key-binding callback for the method ``slot``, which it holds by a weak reference.

    napari calls it with the viewer and looks up its ``__name__`` on every key press. The weak
    reference keeps the viewer's keymap (and the ``destroyed`` slot) from keeping the widget alive.
    """
    method = weakref.WeakMethod(slot)

    def callback(_viewer) -> None:
        bound = method()
        if bound is not None:
            bound()

    callback.__name__ = callback.__qualname__ = f"jcas_review_{action}"
    return callback


def _unbind_keys(viewer, callbacks: dict) -> None:
    """Remove the key bindings in ``callbacks`` (key: callback) that are still bound to those callbacks."""
    for key, callback in callbacks.items():
        if viewer.keymap.get(KeyBinding.from_str(key)) is callback:
            viewer.bind_key(key, None)


def _key_unbinder(viewer, callbacks: dict):
    """A slot for the widget's ``destroyed`` signal that removes its key bindings (the widget is gone then)."""
    def unbind_review_keys(*_) -> None:
        _unbind_keys(viewer, callbacks)

    return unbind_review_keys
