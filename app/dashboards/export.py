"""The dashboard's aggregates as CSV rows: the same figures as the page, nothing more."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from app.dashboards.service import Dashboard
from app.dashboards.stats import neutralise_formula
from app.i18n import get_locale
from app.i18n import gettext as _

Cell = str | int | float | None


def _sector_name(value: str) -> str:
    names = {
        "education": _("Education (school)"),
        "childcare": _("Childcare"),
        "disability": _("Disability or autism care"),
        "youth_care": _("Youth care"),
        "family_home": _("Family home"),
    }
    return names.get(value, value)


def _comparison_name(value: str) -> str:
    return {"post": _("After six weeks"), "follow_up": _("After three months")}.get(value, value)


def _number(value: float | None, digits: int = 3) -> Cell:
    return None if value is None else round(value, digits)


def export_rows(
    board: Dashboard, *, coach_name: str | None, team_name: str | None = None
) -> Iterator[list[Cell]]:
    """Header and rows of the aggregate CSV; a hidden figure reads "fewer than 5"."""
    hidden = _("fewer than %(n)s", n=board.min_cell)
    locale = get_locale()

    def count(value: int | None) -> Cell:
        return hidden if value is None else value

    yield [
        _("Section"),
        _("Group"),
        _("Figure"),
        _("Compared with intake"),
        _("Number"),
        _("Mean change"),
        _("Confidence interval (%(level)s), lower bound", level="95%"),
        _("Confidence interval (%(level)s), upper bound", level="95%"),
        _("Effect size d_z"),
        _("Share reliably improved"),
        _("Share reliably deteriorated"),
    ]
    filters = board.filters
    selection = _("Selection")
    if filters.sector:
        yield [selection, _("Sector"), _sector_name(filters.sector)]
    if filters.coach_id is not None:
        yield [selection, _("Coach cohort"), coach_name or str(filters.coach_id)]
    if filters.team_id is not None:
        yield [selection, _("Team"), team_name or str(filters.team_id)]
    if filters.location is not None:
        yield [selection, _("Location"), filters.location]
    if filters.started_from or filters.started_to:
        period = f"{filters.started_from or ''} – {filters.started_to or ''}"
        yield [selection, _("Started between"), period]
    if board.withheld:
        yield [
            selection,
            "",
            _(
                "Not shown: this selection differs from a wider one by fewer than %(n)s people.",
                n=board.min_cell,
            ),
        ]
        return
    totals = _("Totals")
    everyone = _("Everyone in the selection")
    yield [
        totals,
        _("Whole organisation"),
        _("Professionals with an account"),
        "",
        count(board.professional_accounts),
    ]
    yield [totals, everyone, _("Professionals taking part"), "", count(board.professionals)]
    yield [totals, everyone, _("Trajectories started"), "", count(board.started)]
    yield [totals, everyone, _("Trajectories completed"), "", count(board.completed)]
    for row in board.sectors:
        group = _sector_name(row.sector)
        yield [_("Sector"), group, _("Professionals taking part"), "", count(row.professionals)]
        yield [_("Sector"), group, _("Trajectories started"), "", count(row.started)]
        yield [_("Sector"), group, _("Trajectories completed"), "", count(row.completed)]
    for step in board.funnel:
        yield [
            _("Sessions completed"),
            everyone,
            f"{step.position}. {step.template_key}",
            "",
            count(step.completed),
        ]
    for change in board.changes:
        figure = f"{change.instrument_title.get(locale)}: {change.label.get(locale)}"
        comparison = _comparison_name(change.comparison)
        if change.change is None:
            yield [_("Change"), everyone, figure, comparison, hidden]
            continue
        c = change.change
        yield [
            _("Change"),
            everyone,
            figure,
            comparison,
            c.n,
            _number(c.mean),
            _number(c.ci_low),
            _number(c.ci_high),
            _number(c.d_z),
            hidden
            if change.share_improved is None and c.improved is not None
            else _number(change.share_improved),
            hidden
            if change.share_deteriorated is None and c.deteriorated is not None
            else _number(change.share_deteriorated),
        ]


def to_csv(rows: Iterator[list[Cell]]) -> str:
    """CSV text; text cells are neutralised so no spreadsheet runs them as formulas."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(
            "" if cell is None else neutralise_formula(cell) if isinstance(cell, str) else cell
            for cell in row
        )
    return out.getvalue()


def to_xlsx(rows: Iterator[list[Cell]], *, sheet_title: str) -> bytes:
    """An XLSX workbook of the same rows; no cell is ever stored as a formula.

    openpyxl would store text that starts with "=" as a formula, so every text cell is
    written as a string explicitly, and text that a spreadsheet could read as a formula
    also gets the quote prefix (editing the cell keeps it text).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    widths = [28, 28, 44, 22, 10, 12, 14, 14, 12, 14, 14]
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    bold = Font(bold=True)
    for number, row in enumerate(rows):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
                if neutralise_formula(value) != value:
                    cell.quotePrefix = True
            if number == 0:
                cell.font = bold
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
