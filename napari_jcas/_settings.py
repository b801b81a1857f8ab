"""The plugin's settings: the keys of the layer metadata it writes, and what its docks offer and start with.

Only the plugin uses these. What the core defines (the methods, the correction defaults, the mirror default,
the sample names) is imported from :mod:`jcas.settings` and :mod:`jcas.data.samples` where it is used.
"""
from __future__ import annotations

#: Keys of the napari layer metadata that the plugin writes: where a layer was read from
#: (``{"path", "files", "affine", ...}``), the :class:`jcas.review.Review` of a cleaned layer, and
#: the disagreement layer's heatmaps (``{"class": array, "affinity": array}``, each the mask's shape).
SOURCE_KEY, REVIEW_KEY, HEATMAPS_KEY = "jcas_source", "jcas_review", "jcas_heatmaps"
#: The metadata key that marks a layer the plugin made: its value says which ("cleaned", "disagreement",
#: "proposal", "boundaries", "outline"). All but the cleaned labels show a result and are never inputs.
OUTPUT_KEY = "jcas_output"
#: The metadata key of a mask layer whose review has its own place (the Dataset dock's files): the path the Review
#: dock exports it to, and autosaves it beside, whatever the dock's "Export to" said before.
EXPORT_KEY = "jcas_export"
#: The column of a Labels layer's features that names the class of each label value (its "index").
CLASS_COLUMN = "class"
#: The methods the Train dock offers (of :data:`jcas.settings.METHODS`; fc is for benchmarks and the command line).
DOCK_METHODS = ("jcas", "jcas_dar", "ce")
#: The disagreement heatmaps a correction shows, the first by default: the class disagreement
#: (``1 - p(drawn label)``, what candidates are ranked by), then the affinity disagreement.
HEATMAP_KINDS = ("class", "affinity")
DEFAULT_HEATMAP = HEATMAP_KINDS[0]
#: Whether the plugin shows the boundary view when a correction arrives. Off: it is an opt-in layer,
#: because it did not beat the class prediction's edges at locating the true boundary on enough of
#: the held-out sets (benchmarks/results/boundary.md; docs/method.md, "What the annotator sees").
SHOW_BOUNDARY_VIEW = False
#: The Review dock's "Accept all open ≥ score" threshold when it opens.
ACCEPT_ALL_THRESHOLD = 0.8
#: The environment variable that names the folder of the session autosaves
#: (:func:`napari_jcas._review_autosave.session_folder`).
SESSION_FOLDER_ENV = "JCAS_REVIEW_SESSIONS"
