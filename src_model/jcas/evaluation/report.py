"""The data set's quality-control report: one self-contained HTML page (``report.html``) that opens offline.

It shows the estimated quality of the drawn masks before and after the proposals, a histogram of
the per-file estimates, the worst files as thumbnails (image, drawn mask, proposal, disagreement
heatmap), each linking to its row of the table of every file and slice. Pictures are inline PNGs
(data URIs) and the histogram an inline SVG: nothing is fetched.
"""
from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: Longest side of a thumbnail, pixels.
THUMBNAIL_SIZE = 160
#: Worst files shown as thumbnails.
WORST_SHOWN = 12
#: Histogram bins of the estimated Dice, over [0, 1].
HISTOGRAM_BINS = 20
#: Label colours (RGB) by class index, the background (index 0) left transparent.
PALETTE = np.array([[0, 0, 0], [230, 75, 53], [77, 187, 213], [0, 160, 135], [243, 155, 127], [145, 209, 194],
                    [132, 145, 180], [220, 0, 0], [126, 97, 72], [176, 156, 133]], dtype=np.uint8)


@dataclass(frozen=True)
class Thumbnails:
    """The pictures of one slice, PNG bytes each.

    Attributes
    ----------
    image, drawn, proposal, heatmap : bytes
    """

    image: bytes
    drawn: bytes
    proposal: bytes
    heatmap: bytes


def _png(rgb: np.ndarray) -> bytes:
    picture = Image.fromarray(rgb)
    picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _grey(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 of an image slice ``(H, W)`` or ``(H, W, C)``, stretched between its 1st and 99th percentiles."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = image[..., :3].mean(axis=-1)
    finite = image[np.isfinite(image)]
    low, high = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    scaled = np.clip((np.nan_to_num(image, nan=low) - low) / (high - low if high > low else 1.0), 0, 1)
    return np.repeat((scaled * 255).astype(np.uint8)[..., None], 3, axis=-1)


def _overlay(grey: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Class colours over the image at half opacity; index 0 (the background) and -1 (unlabelled) show the image."""
    colours = PALETTE[np.clip(indices, 0, None) % len(PALETTE)].astype(np.float64)
    shown = (indices > 0)[..., None]
    return np.where(shown, 0.45 * grey + 0.55 * colours, grey).astype(np.uint8)


def make_thumbnails(image: np.ndarray, drawn: np.ndarray, proposal: np.ndarray, heatmap: np.ndarray) -> Thumbnails:
    """The four pictures of one slice.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` image slice.
    drawn, proposal : numpy.ndarray
        ``(H, W)`` class indices (0 the background, -1 unlabelled) of the drawn and of the corrected mask.
    heatmap : numpy.ndarray
        ``(H, W)`` float disagreement in [0, 1].

    Returns
    -------
    Thumbnails
    """
    grey = _grey(image)
    heat = np.clip(np.nan_to_num(heatmap), 0, 1)[..., None]
    hot = np.array([255.0, 210.0, 0.0])
    return Thumbnails(_png(grey), _png(_overlay(grey, drawn)), _png(_overlay(grey, proposal)),
                      _png(((1 - heat) * 0.5 * grey + heat * hot).astype(np.uint8)))


@dataclass(frozen=True)
class ReportFile:
    """One file of the report.

    Attributes
    ----------
    stem : str
    before, after : float
        Estimated Dice of the drawn mask and of the corrected one (NaN when unknown).
    thumbnails : Thumbnails or None
        Its worst slice's pictures; None when not shown.
    worst_slice : str
        Which slice the pictures show ("" for a 2D file).
    """

    stem: str
    before: float
    after: float
    thumbnails: Thumbnails | None = None
    worst_slice: str = ""


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _number(value: float, digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def histogram_svg(values: list[float], bins: int = HISTOGRAM_BINS, width: int = 520, height: int = 180) -> str:
    """An inline SVG bar chart of ``values`` in [0, 1] (NaN left out), with its axis labelled.

    Parameters
    ----------
    values : list of float
    bins : int
    width, height : int
        Size in CSS pixels.

    Returns
    -------
    str
        The ``<svg>`` element.
    """
    finite = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
    counts = np.histogram(np.clip(finite, 0, 1), bins=bins, range=(0, 1))[0]
    left, bottom, top = 36, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    tallest = max(int(counts.max()) if counts.size else 0, 1)
    bar_w = plot_w / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="histogram of the estimated Dice of each file">']
    for index, count in enumerate(counts):
        bar_h = plot_h * count / tallest
        x, y = left + index * bar_w, top + plot_h - bar_h
        low = index / bins
        parts.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" fill="#3b7dd8">'
                     f'<title>{low:.2f}–{low + 1 / bins:.2f}: {count} file(s)</title></rect>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>')
    for tick in np.linspace(0, 1, 6):
        x = left + tick * plot_w
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="11" text-anchor="middle">{tick:.1f}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{tallest}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height}" font-size="11" text-anchor="middle">'
                 'estimated Dice of the drawn mask</text></svg>')
    return "".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.summary { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
.big { font-size: 1.6em; font-weight: 600; } .muted { color: #666; font-size: 0.9em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
.card a { font-weight: 600; text-decoration: none; color: #1a56a8; }
.pics { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px; margin-top: 6px; }
.pics figure { margin: 0; text-align: center; font-size: 0.75em; color: #555; }
.pics img { width: 100%; image-rendering: pixelated; border-radius: 3px; }
table { border-collapse: collapse; font-size: 0.85em; } th, td { padding: 3px 8px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f4f4f4; position: sticky; top: 0; } td.n { text-align: right; }
tr:target { background: #fff3c4; } tr.stack td { color: #555; }
"""


def render_report(title: str, files: list[ReportFile], rows: list[dict], columns: list[str],
                  totals: dict[str, float], notes: list[str]) -> str:
    """The report page.

    Parameters
    ----------
    title : str
        What the page is about (e.g. the output folder).
    files : list of ReportFile
        Every file; those with thumbnails are shown as cards, worst first.
    rows : list of dict
        The rows of ``quality.csv``, worst first; each row's ``stem`` and ``slice`` make its anchor.
    columns : list of str
        The columns of the table, in order.
    totals : dict
        ``before``, ``after``: the data set's estimated Dice; ``files``, ``slices``, ``proposals``, ``withheld``.
    notes : list of str
        Lines shown under the summary (what the guard withheld and why).

    Returns
    -------
    str
        The HTML document.
    """
    esc = html.escape
    cards = []
    for entry in sorted((f for f in files if f.thumbnails), key=lambda f: _sort_key(f.before)):
        pictures = "".join(f'<figure><img alt="{label} of {esc(entry.stem)}" src="{_uri(png)}">'
                           f'<figcaption>{label}</figcaption></figure>'
                           for label, png in (("image", entry.thumbnails.image), ("drawn", entry.thumbnails.drawn),
                                              ("proposal", entry.thumbnails.proposal),
                                              ("disagreement", entry.thumbnails.heatmap)))
        where = f", slice {esc(entry.worst_slice)}" if entry.worst_slice else ""
        cards.append(f'<div class="card"><a href="#{_anchor(entry.stem, "")}">{esc(entry.stem)}</a>{where}'
                     f'<div class="muted">estimated Dice {_number(entry.before)} → {_number(entry.after)}</div>'
                     f'<div class="pics">{pictures}</div></div>')
    head = "".join(f"<th>{esc(column)}</th>" for column in columns)
    body = []
    for row in rows:
        cells = "".join(f'<td class="n">{esc(str(row.get(column, "")))}</td>' if column not in ("stem", "slice")
                        else f"<td>{esc(str(row.get(column, '')))}</td>" for column in columns)
        css = ' class="stack"' if row.get("slice") not in ("", "all") else ""
        body.append(f'<tr id="{_anchor(row["stem"], row.get("slice", ""))}"{css}>{cells}</tr>')
    note_items = "".join(f"<li>{esc(note)}</li>" for note in notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Label quality: {esc(title)}</title>
<style>{STYLE}</style></head><body>
<h1>Label quality report</h1>
<div class="muted">{esc(title)}</div>
<h2>The data set</h2>
<div class="summary">
<div><div class="muted">estimated Dice of the drawn masks</div><div class="big">{_number(totals['before'])}</div></div>
<div><div class="muted">after the proposals</div><div class="big">{_number(totals['after'])}</div></div>
<div><div class="muted">files · slices</div><div class="big">{totals['files']} · {totals['slices']}</div></div>
<div><div class="muted">proposals · withheld</div><div class="big">{totals['proposals']} · {totals['withheld']}</div></div>
<div>{histogram_svg([f.before for f in files])}</div>
</div>
<p class="muted">Estimates, not measurements: the Dice of each mask against the prediction of the model that
did not train on it (out of fold). They rank the masks; a model that learnt the same mistakes as the masks
cannot see those.</p>
{f'<ul class="muted">{note_items}</ul>' if note_items else ''}
<h2>The worst files</h2>
<div class="cards">{''.join(cards) or '<p>No file to show.</p>'}</div>
<h2>Every file and slice, worst first</h2>
<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
</body></html>
"""


def _sort_key(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def _anchor(stem: str, slice_name: str) -> str:
    """A URL-fragment-safe id of a table row."""
    text = f"{stem}--{slice_name}" if slice_name not in ("", "all") else stem
    return "row-" + base64.urlsafe_b64encode(text.encode("utf-8", "surrogateescape")).decode("ascii").rstrip("=")
