"""Fixtures for the plugin tests: a small real sample, a trained model, notifications."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager

from jcas.data.samples import load_noisy_sample
from reach import LAPTOP_SCREEN



@pytest.fixture(scope="session", autouse=True)
def _plugins_discovered():
    """Register installed npe2 plugins (a Qt viewer does this itself; a ViewerModel does not)."""
    from npe2 import PluginManager

    PluginManager.instance().discover()


@pytest.fixture(autouse=True)
def _every_candidate_supported(monkeypatch):
    """The dock tests review the regions of a model trained for two quick epochs on two slices: each of its fold
    models trained on the one slice the other judges, learned that slice's drawn mask, and so keeps nearly every
    candidate out under the guard's support rule (tested in tests/correction/test_guard.py). The review tests
    need several regions, so the rule lets every candidate through here."""
    import jcas.correction.guard

    monkeypatch.setattr(jcas.correction.guard, "MIN_SUPPORT", 0.0)


@pytest.fixture(autouse=True)
def _review_sessions(tmp_path, monkeypatch):
    """Session autosaves (reviews of masks with no export path) go to the test's own folder."""
    from napari_jcas._settings import SESSION_FOLDER_ENV

    monkeypatch.setenv(SESSION_FOLDER_ENV, str(tmp_path / "review sessions"))
    return tmp_path / "review sessions"


@pytest.fixture(scope="session")
def noisy_mni():
    """Two slices of the MNI sample: images (2, 233, 197) uint8 and a noisy mask {0, 1, 2}."""
    images, noisy, _ = load_noisy_sample("mni_tissue")
    return images[3:5].copy(), noisy[3:5].copy()


@pytest.fixture(scope="session")
def model_file(noisy_mni, tmp_path_factory):
    """A JCAS model trained for two quick epochs on ``noisy_mni``, saved as a checkpoint.

    Trained with the plugin's torch thread count: more threads than free cores makes torch
    many times slower on a busy machine.
    """
    import torch

    from jcas.training.trainer import Trainer
    from napari_jcas._workers import torch_threads

    threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads())
    try:
        trainer = Trainer([noisy_mni[0]], [noisy_mni[1]], preset="fast", epochs=2)
        for _ in trainer.run():
            pass
    finally:
        torch.set_num_threads(threads)
    return trainer.save(tmp_path_factory.mktemp("model") / "mni.pt")


class Notifications(list):
    """Notifications shown while a test runs."""

    def messages(self, severity: NotificationSeverity = NotificationSeverity.ERROR) -> list[str]:
        """Messages of one severity."""
        return [str(n.message) for n in self if n.severity == severity]


@pytest.fixture
def notifications():
    """Collect napari notifications (show_error, show_warning, show_info, worker errors)."""
    shown = Notifications()
    notification_manager.notification_ready.connect(shown.append)
    yield shown
    notification_manager.notification_ready.disconnect(shown.append)



#: The Train dock's Min. region in the dock tests: the test model (two quick epochs on two slices)
#: proposes only one or two regions of the default 400 px, and the review tests need several.
TEST_MIN_AREA = 100


def _dock(viewer, noisy_mni) -> SimpleNamespace:
    """Add the sample image and noisy mask (anisotropic scale) and both docks to ``viewer``;
    Min. region is :data:`TEST_MIN_AREA`."""
    images, noisy = noisy_mni
    image = viewer.add_image(images, name="brain", scale=(2.5, 0.8, 0.9))
    mask = viewer.add_labels(noisy.copy(), name="brain mask", scale=(2.5, 0.8, 0.9), metadata={"subject": "mni"})
    train_dock, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    review_dock, review = viewer.window.add_plugin_dock_widget("napari-jcas", "Review")
    train.training.image_choice.value = image
    train.training.mask_choice.value = mask
    train.correcting.min_area_choice.value = TEST_MIN_AREA
    return SimpleNamespace(viewer=viewer, image=image, mask=mask, train=train, review=review,
                           train_dock=train_dock, review_dock=review_dock)


def _correct(docked: SimpleNamespace, model_file, qtbot) -> SimpleNamespace:
    """Load the trained model into ``docked`` and run Correct."""
    assert docked.train.training.load_model(model_file)
    assert docked.train.correcting.correct() is not None
    qtbot.waitUntil(lambda: docked.train.session.worker is None, timeout=30_000)
    docked.cleaned = docked.viewer.layers["brain cleaned"]
    docked.proposal = docked.viewer.layers["brain proposal"]
    return docked


@pytest.fixture
def docked(make_napari_viewer, noisy_mni):
    """A viewer with the sample image and noisy mask (anisotropic scale) and both docks."""
    return _dock(make_napari_viewer(), noisy_mni)


@pytest.fixture
def corrected(docked, model_file, qtbot):
    """``docked`` after loading the trained model and running Correct."""
    return _correct(docked, model_file, qtbot)


@pytest.fixture
def docked_shown(make_napari_viewer, noisy_mni):
    """``docked`` in a viewer whose window is shown: its canvas draws, and key presses reach it."""
    return _dock(make_napari_viewer(show=True), noisy_mni)


@pytest.fixture
def corrected_shown(docked_shown, model_file, qtbot):
    """``corrected`` in a shown viewer."""
    return _correct(docked_shown, model_file, qtbot)


@pytest.fixture
def corrected_laptop(make_napari_viewer, noisy_mni, model_file, qtbot):
    """``corrected_shown`` in a window of :data:`LAPTOP_SCREEN` size, set before the docks open."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(*LAPTOP_SCREEN)
    return _correct(_dock(viewer, noisy_mni), model_file, qtbot)
