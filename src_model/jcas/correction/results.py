"""The types a correction returns: the whole image's :class:`Correction` and :class:`CorrectionMaps`, and one
streamed slice's :class:`SliceSelection` and :class:`SliceCorrection`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..evaluation.mask_quality import QualityTally
from .guard import Withheld
from .regions import Region


@dataclass
class Correction:
    """What the model proposes for one image or stack.

    Attributes
    ----------
    corrected : numpy.ndarray
        The mask's shape and dtype, in its label values: the drawn mask with the selected
        regions replaced by the model's labels.
    class_disagreement : numpy.ndarray
        float32 in [0, 1], mask's shape: ``1 - p(drawn label)``.
    affinity_disagreement : numpy.ndarray
        float32 in [0, 1], mask's shape: how much each pixel's learned affinities contradict
        those implied by the drawn mask.
    region_map : numpy.ndarray
        int32, mask's shape: 0 outside candidates, else the id of a :class:`Region`.
    regions : list of Region
        Candidates, ranked by expected pixels fixed (:func:`jcas.correction.regions.rank`).
    withheld : list of Withheld
        Candidates the do-no-harm guard kept out (:mod:`jcas.correction.guard`), with the reasons; their
        pixels keep the drawn labels and their ids are not in ``region_map``.
    notes : list of str
        What the guard withheld and why, one line per class or slice, for people.
    judges : list of str
        Per slice: which model judged it ("fold k", "strips", "ensemble", "in-sample", "unseen").
    maps : CorrectionMaps or None
        The maps the regions were selected from: :func:`jcas.correction.selection.select_regions` re-selects from them.
    boundary : numpy.ndarray or None
        float32 in [0, 1], mask's shape: the model's boundary probability, the largest ``1 - A_ij``
        over each pixel's 4 nearest neighbours (:mod:`jcas.correction.boundary`, whose
        :func:`~jcas.correction.boundary.boundary_view` compares it with the drawn mask).
    """

    corrected: np.ndarray
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    region_map: np.ndarray
    regions: list[Region] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)
    maps: CorrectionMaps | None = None
    boundary: np.ndarray | None = None


@dataclass
class CorrectionMaps:
    """The model's per-pixel verdict on a mask, before candidate regions are selected from it.

    Attributes
    ----------
    drawn : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)``: the mask as drawn.
    proposed : numpy.ndarray
        The mask's shape and dtype: the model's label at every pixel (ignored pixels keep theirs).
    class_disagreement, affinity_disagreement : numpy.ndarray
        float32 in [0, 1], the mask's shape (see :class:`Correction`).
    confidence : numpy.ndarray
        float32 in [0, 1], the mask's shape: the model's probability of its proposed label.
    untrusted : dict of int to str
        Label values the guard withholds, with the reason (:func:`jcas.correction.guard.untrusted_classes`);
        empty without the guard.
    slice_reasons : list of str or None
        Per slice: why the guard withholds all its regions (:func:`jcas.correction.guard.untrusted_slice`), else None.
    judges : list of str
        Per slice: which model judged it.
    num_classes : int
        Classes the model knows.
    guard : bool
        Whether the do-no-harm guard applies.
    boundary : numpy.ndarray or None
        float32 in [0, 1], the mask's shape: the model's boundary probability (see :class:`Correction`).
    ignore_value : int or None
        The drawn value of unlabelled pixels (:attr:`jcas.data.labels.LabelMap.ignore_value`).
    object_areas : dict of int to float
        The typical object of each label value in the model's training masks (the relative area floor;
        :attr:`jcas.nn.crossfit.CrossFittedModel.object_areas`); values it lacks are measured per slice.
    support : numpy.ndarray or None
        float32 in [0, 1], the mask's shape: the share of the check models that propose the same label
        (:attr:`jcas.correction.prediction.SliceMaps.support`); None for a single model.
    """

    drawn: np.ndarray
    proposed: np.ndarray
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    confidence: np.ndarray
    untrusted: dict[int, str]
    slice_reasons: list[str | None]
    judges: list[str]
    num_classes: int
    guard: bool = True
    boundary: np.ndarray | None = None
    ignore_value: int | None = None
    object_areas: dict[int, float] = field(default_factory=dict)
    support: np.ndarray | None = None


@dataclass
class SliceSelection:
    """The regions chosen in one 2D slice, and the slice they make.

    Attributes
    ----------
    corrected : numpy.ndarray
        ``(H, W)``, the mask's dtype: the drawn slice with the kept regions replaced.
    region_map : numpy.ndarray
        ``(H, W)`` int32: 0 outside the kept regions, else a region's id.
    regions, withheld : list
        The kept :class:`~jcas.correction.regions.Region` s (unranked) and the guard's :class:`Withheld` ones.
    notes : list of str
        Why the slice's candidates were withheld, when the guard withheld a whole in-sample slice.
    """

    corrected: np.ndarray
    region_map: np.ndarray
    regions: list[Region]
    withheld: list[Withheld]
    notes: list[str]


@dataclass
class SliceCorrection:
    """One slice of a correction streamed by :func:`jcas.correction.stream.stream_correct`.

    Attributes
    ----------
    z : int
    selection : SliceSelection
        The corrected slice and its regions.
    class_disagreement, affinity_disagreement : numpy.ndarray
        ``(H, W)`` float32 heatmaps.
    judge : str
        Which model judged the slice.
    proposed : numpy.ndarray
        ``(H, W)``, the drawn slice's dtype: the model's label at every pixel, in the drawn values
        (ignored pixels keep theirs).
    confidence : numpy.ndarray
        ``(H, W)`` float32 in [0, 1]: the model's probability of its proposed label.
    slice_reason : str or None
        Why the guard withholds every region of this slice (:func:`jcas.correction.guard.untrusted_slice`), else None.
    boundary : numpy.ndarray or None
        ``(H, W)`` float32: the model's boundary probability (:mod:`jcas.correction.boundary`).
    support : numpy.ndarray or None
        ``(H, W)`` float32: the check models' support of the proposed label (:class:`CorrectionMaps`).
    boundaries : numpy.ndarray or None
        ``(H, W)`` uint8: the boundary view of the drawn slice
        (:func:`jcas.correction.boundary.boundary_view`: 1 a boundary the model sees and the mask
        lacks, 2 a drawn boundary the model does not see).
    drawn_quality, corrected_quality : QualityTally or None
        The sums of the estimated quality (:mod:`jcas.evaluation.mask_quality`) of the drawn slice and of
        the corrected one, judged by the same model(s). These three are None unless the slice was streamed
        with ``assess`` (:func:`jcas.correction.stream.stream_correct`).
    """

    z: int
    selection: SliceSelection
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    judge: str
    proposed: np.ndarray
    confidence: np.ndarray
    slice_reason: str | None = None
    boundary: np.ndarray | None = None
    support: np.ndarray | None = None
    boundaries: np.ndarray | None = None
    drawn_quality: QualityTally | None = None
    corrected_quality: QualityTally | None = None
