import pytest

from napari_jcas.__main__ import open_sample_with_docks


@pytest.mark.gui
def test_the_main_job_opens_the_sample_and_both_docks_maximized(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    open_sample_with_docks(viewer)
    assert viewer.window._qt_window.isMaximized()
    assert [layer.name for layer in viewer.layers] == ["brain MRI", "brain MRI noisy mask"]
    docks = " ".join(viewer.window.dock_widgets)
    assert "Train" in docks and "Review" in docks
