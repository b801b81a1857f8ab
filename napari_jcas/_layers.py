"""The layers a correction adds (proposal, disagreement heatmap, cleaned labels), camera moves, layer removal.

Every added layer takes the geometry (scale, translate, rotate, shear, affine) and a copy of
the metadata of the user's mask layer, which is never modified.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from napari.layers import Image, Labels, Layer
from qtpy.QtOpenGLWidgets import QOpenGLWidget
from qtpy.QtWidgets import QWidget

from ._writer import REVIEW_KEY
from .review import Review

#: Metadata key of the disagreement layer: ``{"class": array, "affinity": array}``.
HEATMAPS_KEY = "jcas_heatmaps"
HEATMAP_KINDS = ("class", "affinity")
HEATMAP_COLORMAP = "inferno"


@dataclass
class CorrectionLayers:
    """The three layers of one correction."""

    proposal: Labels
    disagreement: Image
    cleaned: Labels


def geometry(layer: Layer) -> dict:
    """Keyword arguments that give a new layer the geometry and metadata of ``layer``.

    The plugin's own metadata (a review, heatmaps) stays with the layer it belongs to.
    """
    metadata = {key: value for key, value in layer.metadata.items() if key not in (REVIEW_KEY, HEATMAPS_KEY)}
    return {
        "scale": layer.scale,
        "translate": layer.translate,
        "rotate": layer.rotate,
        "shear": layer.shear,
        "affine": layer.affine.affine_matrix,
        "metadata": metadata,
    }


def add_correction_layers(viewer, image: Layer, mask: Labels, correction, heatmap: str = "class") -> CorrectionLayers:
    """Add "<image> disagreement", "<image> cleaned" and "<image> proposal" for a correction.

    Parameters
    ----------
    viewer : napari.Viewer
    image, mask : napari.layers.Layer
        The layers the correction was computed from; their data are left alone.
    correction : jcas.correction.maps.Correction
        The model's result for ``mask``.
    heatmap : {"class", "affinity"}
        Which disagreement to show first.

    Returns
    -------
    CorrectionLayers
        The new layers; the cleaned labels start as a copy of the drawn mask and carry the
        :class:`~napari_jcas.review.Review` in their metadata.
    """
    drawn = np.asarray(mask.data)
    review = Review(correction.regions, correction.region_map, correction.corrected, drawn)
    heatmaps = {"class": correction.class_disagreement, "affinity": correction.affinity_disagreement}
    shape = geometry(mask)
    disagreement = viewer.add_image(
        heatmaps[heatmap], name=f"{image.name} disagreement", colormap=HEATMAP_COLORMAP,
        contrast_limits=(0.0, 1.0), blending="additive", opacity=0.6,
        **{**shape, "metadata": {**shape["metadata"], HEATMAPS_KEY: heatmaps}},
    )
    cleaned = viewer.add_labels(
        drawn.copy(), name=f"{image.name} cleaned", opacity=0.45,
        **{**shape, "metadata": {**shape["metadata"], REVIEW_KEY: review}},
    )
    proposal = viewer.add_labels(
        np.asarray(correction.corrected), name=f"{image.name} proposal", opacity=0.9, **shape,
    )
    proposal.contour = 1
    viewer.layers.selection.active = cleaned
    return CorrectionLayers(proposal, disagreement, cleaned)


def make_canvas_current(widget: QWidget) -> None:
    """Make the OpenGL context of the canvas in ``widget``'s window current; call it before a layer is removed.

    napari deletes a removed layer's OpenGL objects right away, outside the canvas's paint,
    with whatever context is current. With docks in the window that is often the context Qt
    composes the window with; the canvas then crashes on its next draws (a segmentation fault,
    seen with Mesa's software OpenGL). With the canvas's own context current, the objects are
    deleted where they live. napari's canvas is the first OpenGL widget of its window.
    """
    for canvas in widget.window().findChildren(QOpenGLWidget):
        if canvas.isValid():
            canvas.makeCurrent()
            return


def show_heatmap(layer: Image, kind: str) -> None:
    """Show the class or affinity disagreement in a disagreement layer."""
    if kind not in HEATMAP_KINDS:
        raise ValueError(f"heatmap must be one of {HEATMAP_KINDS}, got {kind!r}")
    layer.data = layer.metadata[HEATMAPS_KEY][kind]
    layer.contrast_limits = (0.0, 1.0)


def focus(viewer, layer: Layer, region, *, context: float = 4.0) -> None:
    """Centre the camera on ``region`` of ``layer`` and zoom so it fills 1/``context`` of the canvas.

    For stacks, the viewer also moves to the region's slice.
    """
    y0, x0, y1, x1 = region.bbox
    point = [(y0 + y1) / 2, (x0 + x1) / 2]
    if layer.ndim == 3:
        point = [region.slice] + point
    world = np.asarray(layer.data_to_world(point))
    if layer.ndim == 3:
        viewer.dims.set_point(viewer.dims.ndim - layer.ndim, float(world[0]))
    height = max(y1 - y0, 8) * abs(layer.scale[-2])
    width = max(x1 - x0, 8) * abs(layer.scale[-1])
    canvas_height, canvas_width = viewer.canvas.size
    camera = viewer.scene.camera
    camera.center = tuple(float(v) for v in world[-2:])
    camera.zoom = float(min(canvas_height / (context * height), canvas_width / (context * width)))
