"""The layers a correction adds (proposal, disagreement heatmap, cleaned labels, the boundary view), the outline
of the region under review, camera moves, layer removal.

Every added layer takes the geometry (scale, translate, rotate, shear, affine) and a copy of
the metadata of the user's mask layer, which is never modified, and is marked as the plugin's
output (:data:`napari_jcas._settings.OUTPUT_KEY`), so that the Train dock never offers a result as an input.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image, Labels, Layer, Shapes
from napari.utils.colormaps import Colormap
from qtpy.QtOpenGLWidgets import QOpenGLWidget
from qtpy.QtWidgets import QWidget

from jcas.correction.boundary import MISSING, UNSEEN, boundary_view
from jcas.review import OPEN, Review

from ._settings import DEFAULT_HEATMAP, HEATMAP_KINDS, HEATMAPS_KEY, OUTPUT_KEY, REVIEW_KEY, SHOW_BOUNDARY_VIEW

if TYPE_CHECKING:
    from jcas.correction.results import CorrectionMaps

#: Below this disagreement the heatmap is transparent: the model's doubt at every boundary and in
#: dark background does not tint the whole image.
HEATMAP_FLOOR = 0.3
#: The disagreement heatmap: transparent up to :data:`HEATMAP_FLOOR`, then orange to amber, strongest
#: where the model disagrees most, and at most 45% opaque, so the anatomy and the labels under a disputed
#: region stay visible. It is drawn over the image and the cleaned labels (not added to them), so it
#: stays legible over a bright MRI and over any label colour.
HEATMAP_COLORMAP = Colormap(
    colors=[[1.0, 0.45, 0.0, 0.0], [1.0, 0.45, 0.0, 0.0], [1.0, 0.55, 0.0, 0.25], [1.0, 0.8, 0.0, 0.45]],
    controls=[0.0, HEATMAP_FLOOR, 0.6, 1.0], name="jcas disagreement",
)
#: The cleaned labels are painted on: seen, but faint enough that the image shows through.
CLEANED_OPACITY = 0.3
#: The outline of the region under review: a colour apart from the label colours and the heatmap.
OUTLINE_COLOR = "#00ff66"
#: The boundary view's colours: a boundary the model sees and the drawn mask lacks, and a drawn one it does not see.
BOUNDARY_COLORS = {None: "transparent", MISSING: "#00e5ff", UNSEEN: "#ff00aa"}
#: Framing a region: the view spans at least CONTEXT times its box, and at least MIN_VIEW pixels.
CONTEXT = 3.0
MIN_VIEW = 64


@dataclass
class CorrectionLayers:
    """The layers of one correction, the maps its regions were selected from, and its inputs."""

    proposal: Labels
    disagreement: Image
    cleaned: Labels
    maps: CorrectionMaps
    image: Layer
    mask: Layer
    boundaries: Labels


def boundary_labels(correction, drawn: np.ndarray) -> np.ndarray:
    """The boundary view of ``drawn`` from a correction's boundary probability
    (:func:`jcas.correction.boundary.boundary_view`)."""
    return boundary_view(correction.maps.boundary, drawn, ignore_value=correction.maps.ignore_value)


def heatmaps_of(class_disagreement: np.ndarray, affinity_disagreement: np.ndarray) -> dict[str, np.ndarray]:
    """The disagreement layer's heatmaps by kind (:data:`napari_jcas._settings.HEATMAP_KINDS`).

    Parameters
    ----------
    class_disagreement, affinity_disagreement : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` float maps in [0, 1], the drawn mask's shape.
    """
    return dict(zip(HEATMAP_KINDS, (class_disagreement, affinity_disagreement)))


def is_input(layer: Layer) -> bool:
    """Whether ``layer`` can be an input of training or Correct: any layer but the plugin's results. The
    cleaned labels are one: they are the person's corrected mask, and may be corrected again."""
    return layer.metadata.get(OUTPUT_KEY, "cleaned") == "cleaned"


def geometry(layer: Layer) -> dict:
    """Keyword arguments that give a new layer the geometry and metadata of ``layer``.

    The plugin's own metadata (a review, heatmaps, the output mark) stays with the layer it belongs to.
    """
    own = (REVIEW_KEY, HEATMAPS_KEY, OUTPUT_KEY)
    metadata = {key: value for key, value in layer.metadata.items() if key not in own}
    return {
        "scale": layer.scale,
        "translate": layer.translate,
        "rotate": layer.rotate,
        "shear": layer.shear,
        "affine": layer.affine.affine_matrix,
        "metadata": metadata,
    }


def output_geometry(layer: Layer, output: str, metadata: dict | None = None) -> dict:
    """:func:`geometry` of ``layer`` for the plugin's ``output`` layer, marked with :data:`OUTPUT_KEY`;
    ``metadata`` (the output's own: a review, heatmaps) is added."""
    shape = geometry(layer)
    return {**shape, "metadata": {**shape["metadata"], OUTPUT_KEY: output, **(metadata or {})}}


def add_correction_layers(viewer, image: Layer, mask: Labels, correction,
                          heatmap: str = DEFAULT_HEATMAP) -> CorrectionLayers:
    """Add "<image> cleaned", "<image> disagreement", "<image> proposal" (its outlines) and "<image> boundaries",
    in that order.

    The image stays visible under them; the drawn mask is hidden (the cleaned labels start as its
    copy) and its data are left alone. The boundaries (the boundary view: 1 where the model sees a
    boundary the drawn mask lacks, 2 on a drawn boundary it does not see) are an opt-in layer,
    hidden unless :data:`napari_jcas._settings.SHOW_BOUNDARY_VIEW`: they did not beat the class prediction's
    edges at locating the true boundary on enough held-out sets (docs/method.md, "What the annotator sees").

    Parameters
    ----------
    viewer : napari.Viewer
    image, mask : napari.layers.Layer
        The layers the correction was computed from; their data are left alone.
    correction : jcas.correction.results.Correction
        The model's result for ``mask``.
    heatmap : {"class", "affinity"}
        Which disagreement to show first.

    Returns
    -------
    CorrectionLayers
        The new layers; the cleaned labels start as a copy of the drawn mask and carry the
        :class:`~jcas.review.Review` in their metadata.
    """
    drawn = np.asarray(mask.data)
    review = Review(correction.regions, correction.region_map, correction.corrected, drawn)
    heatmaps = heatmaps_of(correction.class_disagreement, correction.affinity_disagreement)
    cleaned, disagreement, proposal, boundaries = add_review_layers(
        viewer, image, mask, review, heatmaps, boundary_labels(correction, drawn), heatmap)
    return CorrectionLayers(proposal, disagreement, cleaned, correction.maps, image, mask, boundaries)


def add_review_layers(viewer, image: Layer, mask: Labels, review: Review, heatmaps: dict, boundaries: np.ndarray,
                      heatmap: str = DEFAULT_HEATMAP) -> tuple[Labels, Image, Labels, Labels]:
    """Add the layers of a review of ``mask``, as :func:`add_correction_layers` describes them.

    Parameters
    ----------
    viewer : napari.Viewer
    image, mask : napari.layers.Layer
        The image and the drawn mask reviewed; their data are left alone.
    review : Review
        Of ``mask``: its proposal is shown, and the cleaned labels carry it.
    heatmaps : dict
        ``{"class": ..., "affinity": ...}``: the disagreement heatmaps, the mask's shape.
    boundaries : numpy.ndarray
        The boundary view (:func:`jcas.correction.boundary.boundary_view`).
    heatmap : {"class", "affinity"}
        Which disagreement to show first.

    Returns
    -------
    tuple
        The cleaned labels, the disagreement, the proposal and the boundaries layers.
    """
    names = {"features": mask.features} if isinstance(mask, Labels) else {}  # class names, when known
    cleaned = viewer.add_labels(
        review.drawn.copy(), name=f"{image.name} cleaned", opacity=CLEANED_OPACITY,
        **output_geometry(mask, "cleaned", {REVIEW_KEY: review}), **names,
    )
    disagreement = viewer.add_image(
        heatmaps[heatmap], name=f"{image.name} disagreement", colormap=HEATMAP_COLORMAP,
        contrast_limits=(0.0, 1.0), blending="translucent",
        **output_geometry(mask, "disagreement", {HEATMAPS_KEY: heatmaps}),
    )
    proposal = viewer.add_labels(
        np.asarray(review.proposal), name=f"{image.name} proposal", opacity=0.9,
        **output_geometry(mask, "proposal"), **names,
    )
    proposal.contour = 1
    boundary_layer = viewer.add_labels(
        boundaries, name=f"{image.name} boundaries", visible=SHOW_BOUNDARY_VIEW, opacity=0.8,
        colormap=BOUNDARY_COLORS, **output_geometry(mask, "boundaries"),
    )
    mask.visible = False  # the cleaned labels start as its copy: shown twice, the colours would double
    viewer.layers.selection.active = cleaned
    return cleaned, disagreement, proposal, boundary_layer


def review_keeping_decisions(earlier: Review, cleaned: np.ndarray, correction) -> Review:
    """A review of ``correction``'s regions that keeps every decision of ``earlier`` on the same drawn mask.

    The regions ``earlier`` accepted or rejected stay in the new review, with their proposal, their
    status and the log. A region of ``correction`` is proposed only where the person has decided
    nothing: one that touches a decided region or a pixel painted in the cleaned labels (where
    they differ from what the decisions alone give) is left out. The kept regions are numbered
    after the decided ones, so that region ids stay unique.

    Parameters
    ----------
    earlier : Review
        The review shown so far.
    cleaned : numpy.ndarray
        The cleaned labels: the decisions and the person's own edits.
    correction : jcas.correction.results.Correction
        New regions of the same drawn mask (other thresholds, or a model that learnt from the review).

    Returns
    -------
    Review
        Decided regions and new candidates in rank order; the earlier current region stays current
        when it is still a candidate (:meth:`jcas.review.Review.carry_over`), else the first is.
    """
    decided = [region for region in earlier.regions if earlier.status[region.index] != OPEN]
    decided_ids = [region.index for region in decided]
    in_decided = np.isin(earlier.region_map, decided_ids)
    touched = in_decided | (np.asarray(cleaned) != earlier.expected_labels())
    touched_ids = np.unique(correction.region_map[touched])
    fresh = [region for region in correction.regions if region.index not in touched_ids]
    first_id = max(decided_ids, default=0) + 1
    renumbered = [replace(region, index=first_id + number) for number, region in enumerate(fresh)]
    new_ids = np.zeros(int(correction.region_map.max()) + 1, dtype=np.int32)
    for old, new in zip(fresh, renumbered):
        new_ids[old.index] = new.index
    region_map = new_ids[correction.region_map]
    region_map[in_decided] = earlier.region_map[in_decided]
    proposal = np.where(region_map > 0, correction.corrected, earlier.drawn)
    proposal[in_decided] = earlier.proposal[in_decided]
    regions = sorted(decided + renumbered, key=lambda region: region.expected_pixels_fixed, reverse=True)
    review = Review(regions, region_map, proposal, earlier.drawn)
    review.carry_over(earlier)
    return review


def show_reselection(layers: CorrectionLayers, correction) -> Review:
    """Show regions selected again from ``layers.maps`` (other thresholds) in the layers of that correction.

    The cleaned labels keep their pixels and get a new :class:`~jcas.review.Review` that keeps every
    decision made (:func:`review_keeping_decisions`); its metadata event tells the Review dock. The
    proposal layer shows that review's proposal.

    Parameters
    ----------
    layers : CorrectionLayers
    correction : jcas.correction.results.Correction
        From :func:`jcas.correction.selection.select_regions` on ``layers.maps``.

    Returns
    -------
    Review
        The new review, in the cleaned layer's metadata.
    """
    cleaned = layers.cleaned
    review = review_keeping_decisions(cleaned.metadata[REVIEW_KEY], np.asarray(cleaned.data), correction)
    review.sync(cleaned.data)
    layers.proposal.data = review.proposal
    cleaned.metadata = {**cleaned.metadata, REVIEW_KEY: review}
    return review


def show_new_correction(layers: CorrectionLayers, correction, heatmap: str = DEFAULT_HEATMAP) -> Review:
    """Show a new correction of the same pair (after learning from the review) in the layers of the earlier one.

    The heatmaps are the new model's; the cleaned labels keep their pixels (every decision and edit
    made), the review keeps every decision, and the new model's regions are proposed where the person
    has decided nothing (:func:`show_reselection`).

    Parameters
    ----------
    layers : CorrectionLayers
    correction : jcas.correction.results.Correction
        From :func:`jcas.correction.stream.correct` on ``layers.image`` and ``layers.mask``.
    heatmap : {"class", "affinity"}
        Which disagreement to show.

    Returns
    -------
    Review
        The new review, in the cleaned layer's metadata.
    """
    heatmaps = heatmaps_of(correction.class_disagreement, correction.affinity_disagreement)
    layers.disagreement.metadata = {**layers.disagreement.metadata, HEATMAPS_KEY: heatmaps}
    show_heatmap(layers.disagreement, heatmap)
    layers.boundaries.data = boundary_labels(correction, np.asarray(layers.mask.data))
    layers.maps = correction.maps
    return show_reselection(layers, correction)


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


def view_box(region) -> tuple[float, float, float, float]:
    """``(y0, x0, y1, x1)`` in data pixels: the view that frames ``region`` with its context.

    Centred on the region's box, :data:`CONTEXT` times its height and width, at least
    :data:`MIN_VIEW` pixels each: a 20-pixel region is seen with its surroundings, not 9x zoomed.
    """
    y0, x0, y1, x1 = region.bbox
    half_height = max(CONTEXT * (y1 - y0), MIN_VIEW) / 2
    half_width = max(CONTEXT * (x1 - x0), MIN_VIEW) / 2
    centre_y, centre_x = (y0 + y1) / 2, (x0 + x1) / 2
    return centre_y - half_height, centre_x - half_width, centre_y + half_height, centre_x + half_width


def focus(viewer, layer: Layer, region) -> None:
    """Move the camera so that :func:`view_box` of ``region`` of ``layer`` fills the canvas.

    For stacks, the viewer also moves to the region's slice.
    """
    y0, x0, y1, x1 = view_box(region)
    point = [(y0 + y1) / 2, (x0 + x1) / 2]
    if layer.ndim == 3:
        point = [region.slice] + point
    world = np.asarray(layer.data_to_world(point))
    if layer.ndim == 3:
        viewer.dims.set_point(viewer.dims.ndim - layer.ndim, float(world[0]))
    canvas_height, canvas_width = viewer.canvas.size
    camera = viewer.scene.camera
    camera.center = tuple(float(v) for v in world[-2:])
    camera.zoom = float(min(canvas_height / ((y1 - y0) * abs(layer.scale[-2])),
                            canvas_width / ((x1 - x0) * abs(layer.scale[-1]))))


def outline(viewer, shapes: Shapes | None, layer: Layer, region) -> Shapes:
    """Draw a rectangle around ``region`` of ``layer``; returns the Shapes layer that holds it.

    Parameters
    ----------
    viewer : napari.Viewer
    shapes : napari.layers.Shapes or None
        The layer of the previous outline: reused while it is in the viewer (it takes the
        geometry of ``layer``); otherwise a new "<layer> selected" layer is added, and the
        active layer stays active (the review keys and Ctrl+Z act on it).
    layer : napari.layers.Layer
        The cleaned labels under review, ``(H, W)`` or ``(Z, H, W)``.
    region : jcas.correction.regions.Region

    Returns
    -------
    napari.layers.Shapes
    """
    y0, x0, y1, x1 = region.bbox
    top, left, bottom, right = y0 - 1, x0 - 1, y1, x1  # just outside the region's pixels
    corners = np.array([[top, left], [top, right], [bottom, right], [bottom, left]], dtype=float)
    if layer.ndim == 3:
        corners = np.column_stack([np.full(4, region.slice), corners])
    view_y0, view_x0, view_y1, view_x1 = view_box(region)
    width = max(view_y1 - view_y0, view_x1 - view_x0) / 200  # about 3 screen pixels once framed
    if shapes is None or shapes not in viewer.layers or shapes.ndim != layer.ndim:
        active = viewer.layers.selection.active
        shapes = viewer.add_shapes([corners], shape_type="rectangle", name=f"{layer.name} selected",
                                   edge_color=OUTLINE_COLOR, face_color="transparent", edge_width=width,
                                   **{**geometry(layer), "metadata": {OUTPUT_KEY: "outline"}})
        viewer.layers.selection.active = active
        return shapes
    for attribute, value in geometry(layer).items():
        if attribute != "metadata":
            setattr(shapes, attribute, value)
    shapes.data = [corners]
    shapes.edge_width = width
    return shapes
