"""The Review dock's table: the candidate corrections of a review, one a row, sorted by a click on a header.

It starts in rank order (most expected pixels fixed first); a click on a column header sorts the review by that
column (:meth:`jcas.review.Review.sort`), so that Next / Previous follow the table's order, and the review's
``reordered`` signal fills the table again.
"""
from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from jcas.data.labels import class_change
from jcas.review import Review

#: Table columns, and what a click on each header sorts the review by (:data:`jcas.review.SORT_KEYS`).
COLUMN_SORT_KEYS = {"#": "index", "slice": "slice", "change": "change", "area": "area", "score": "score",
                    "exp. px": "expected_pixels_fixed", "status": "status"}
COLUMNS = tuple(COLUMN_SORT_KEYS)
NUMERIC_COLUMNS = ("#", "slice", "area", "score", "exp. px")
#: Columns whose first click sorts from the largest down (the others from the smallest up).
LARGEST_FIRST = ("area", "score", "exp. px")
#: The rank order: the column the table starts sorted by, largest first.
RANK_COLUMN = "exp. px"


class ReviewTable(QTableWidget):
    """The rows of a :class:`jcas.review.Review` in its order, its current region selected.

    Signals
    -------
    chosen(int)
        The person selected or clicked a row: the review's row (a position in its regions) to make current.
    """

    chosen = Signal(int)

    def __init__(self):
        super().__init__(0, len(COLUMNS))
        self.review: Review | None = None
        self.shown_rows: list[int] = []  # the review's rows, in table order
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # the change ("grey matter → white matter") takes the room left and wraps onto a second line there
        # (in full as its tooltip too), so that the class names are read whole and the status column stays
        # in view without a horizontal scroll bar
        header.setSectionResizeMode(COLUMNS.index("change"), QHeaderView.ResizeMode.Stretch)
        self.setWordWrap(True)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionsClickable(True)  # Qt's sort indicator is not shown: it widens every column
        header.setToolTip("Click a column to sort by it, again to turn the order round. 'exp. px', the rank "
                          "order: area x score, how many pixels accepting the region is expected to fix")
        self._sort_order = (RANK_COLUMN, True)  # (column, largest first)
        self._show_sort_order()
        self.setMinimumHeight(160)
        self.itemSelectionChanged.connect(self._on_row_selected)
        self.cellClicked.connect(self._on_row_clicked)
        header.sectionClicked.connect(self._on_header_clicked)

    def set_review(self, review: Review | None) -> None:
        """Show ``review`` (``None``: nothing), sorted as the header shows; :meth:`fill` lists its rows."""
        self.review = review
        self._sort_review()

    def fill(self, names: dict[int, str], slice_index: int | None = None) -> None:
        """List the review's rows, those of slice ``slice_index`` only when given.

        Parameters
        ----------
        names : dict of int to str
            The class name of each label value (:func:`napari_jcas._reader.class_names`); may be empty.
        slice_index : int, optional
        """
        review = self.review
        self.shown_rows = [] if review is None else review.rows(slice_index)
        self.blockSignals(True)
        self.setRowCount(len(self.shown_rows))
        for table_row, position in enumerate(self.shown_rows):
            region = review.regions[position]
            cells = (region.index, region.slice, class_change(region.old_label, region.new_label, names), region.area,
                     f"{region.score:.2f}", f"{region.expected_pixels_fixed:.0f}", review.status[region.index])
            for number, (column, value) in enumerate(zip(COLUMNS, cells)):
                item = QTableWidgetItem(str(value))
                if column == "change":
                    item.setToolTip(str(value))
                if column in NUMERIC_COLUMNS:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(table_row, number, item)
        self.select_current()
        self.blockSignals(False)

    def update_statuses(self) -> None:
        """Show the review's decisions in the status column."""
        for table_row, position in enumerate(self.shown_rows):
            region = self.review.regions[position]
            self.item(table_row, COLUMNS.index("status")).setText(self.review.status[region.index])

    def select_current(self) -> None:
        """Select the row of the review's current region (none when it is not listed), without :attr:`chosen`."""
        blocked = self.blockSignals(True)
        if self.review is None or self.review.position not in self.shown_rows:
            self.clearSelection()
        else:
            table_row = self.shown_rows.index(self.review.position)
            self.selectRow(table_row)
            self.scrollToItem(self.item(table_row, 0))
        self.blockSignals(blocked)

    def _on_header_clicked(self, section: int) -> None:
        """Sort by the clicked column: a new column from the largest down (area, score, exp. px) or from the
        smallest up (the others); the same column again the other way round."""
        column, largest_first = self._sort_order
        clicked = COLUMNS[section]
        self._sort_order = (clicked, not largest_first if clicked == column else clicked in LARGEST_FIRST)
        self._show_sort_order()
        self._sort_review()

    def _show_sort_order(self) -> None:
        """An arrow in the header of the column the table is sorted by."""
        column, largest_first = self._sort_order
        self.setHorizontalHeaderLabels(
            [f"{name} {'▼' if largest_first else '▲'}" if name == column else name for name in COLUMNS])

    def _sort_review(self) -> None:
        """Order the review, and so the table and Next / Previous, as the header shows (the review's ``reordered``
        signal fills the table again)."""
        if self.review is not None:
            column, largest_first = self._sort_order
            self.review.sort(COLUMN_SORT_KEYS[column], descending=largest_first)

    def _on_row_selected(self) -> None:
        rows = self.selectionModel().selectedRows()
        if self.review is not None and rows:
            self.chosen.emit(self.shown_rows[rows[0].row()])

    def _on_row_clicked(self, table_row: int, _column: int) -> None:
        """A click on a row shows its region, also when the row was selected already (no selection signal then)."""
        if self.review is not None and self.shown_rows[table_row] == self.review.position:
            self.chosen.emit(self.review.position)
