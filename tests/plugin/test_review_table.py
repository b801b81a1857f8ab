"""The Review dock's table: ranked by expected pixels fixed, sorted by a header click, a clicked row outlined and
framed with its surroundings."""
from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt

from napari_jcas._review_table import COLUMNS
from reach import click_row, press

pytestmark = pytest.mark.gui


def click_header(review, column: str, qtbot) -> None:
    """Click the header of ``column`` of the review table."""
    header = review.table.horizontalHeader()
    review.scroll_area.ensureWidgetVisible(review.table)
    section = COLUMNS.index(column)
    pos = QPoint(header.sectionViewportPosition(section) + header.sectionSize(section) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def column(review, name: str) -> list[str]:
    """The texts of column ``name``, top to bottom."""
    table = review.table
    return [table.item(row, COLUMNS.index(name)).text() for row in range(table.rowCount())]


def test_the_table_is_ranked_by_expected_pixels_fixed_and_sorts_by_a_header_click(corrected_shown, qtbot):
    review, viewer = corrected_shown.review, corrected_shown.viewer
    state = review.review
    expected = [float(text) for text in column(review, "exp. px")]
    assert len(expected) > 2 and expected == sorted(expected, reverse=True)
    assert expected == [round(r.area * r.score) for r in state.regions]

    click_header(review, "score", qtbot)
    scores = [float(text) for text in column(review, "score")]
    assert scores == sorted(scores, reverse=True) and scores != [round(r.score, 2) for r in state.regions]
    click_row(review, 0, qtbot)
    assert round(state.current.score, 2) == scores[0]
    press(viewer, qtbot, Qt.Key.Key_N)  # Next follows the table's order
    assert state.current is state.regions[state.rows()[1]]
    assert review.table.selectionModel().selectedRows()[0].row() == 1
    click_header(review, "score", qtbot)  # again: lowest first
    assert [float(text) for text in column(review, "score")] == sorted(scores)

    click_header(review, "exp. px", qtbot)  # back to the rank order
    assert [float(text) for text in column(review, "exp. px")] == expected
    assert state.rows() == list(range(len(state)))


def test_a_clicked_row_is_outlined_and_framed_with_its_surroundings(corrected_shown, qtbot):
    review, viewer, cleaned = corrected_shown.review, corrected_shown.viewer, corrected_shown.cleaned
    state = review.review
    for row in (0, len(state) - 1):
        click_row(review, row, qtbot)
        region = state.regions[state.rows()[row]]
        assert state.current is region
        [rectangle] = viewer.layers["brain cleaned selected"].data
        y0, x0, y1, x1 = region.bbox
        assert np.all(rectangle[:, 0] == region.slice)
        assert rectangle[:, 1].min() < y0 and rectangle[:, 1].max() >= y1 - 1
        assert rectangle[:, 2].min() < x0 and rectangle[:, 2].max() >= x1 - 1
        assert viewer.layers.selection.active is cleaned  # the review keys and Ctrl+Z still act on it

        camera, (canvas_height, canvas_width) = viewer.scene.camera, viewer.canvas.size
        centre = cleaned.data_to_world([region.slice, (y0 + y1) / 2, (x0 + x1) / 2])
        np.testing.assert_allclose(camera.center[-2:], centre[-2:], atol=1e-6)
        assert viewer.dims.point[0] == pytest.approx(centre[0])
        seen = np.array([canvas_height, canvas_width]) / camera.zoom / np.abs(cleaned.scale[-2:])  # data pixels
        least = np.maximum(3 * np.array([y1 - y0, x1 - x0]), 64)
        assert np.all(seen >= least - 1e-6) and np.any(seen <= least + 1e-6)  # the box fills the view
