"""The trajectory report as a PDF, drawn with fpdf2's core fonts (no system libraries).

Core fonts only know latin-1, and no TTF font is guaranteed on a fresh machine, so every
text goes through `pdf_text`, which maps typographic characters to plain ones and any
other character (emoji, CJK) to "?". The charts are the same SVG as on the page, embedded
through fpdf2's SVG support; should one fail, the table below it still has the numbers.
"""

from __future__ import annotations

import html
import io
import logging
import unicodedata
from collections.abc import Sequence
from datetime import date

from babel.dates import format_date
from fpdf import FPDF
from markupsafe import Markup

from app.coaching.report import SubscaleReport, TrajectoryReport
from app.coaching.scheme import coding_scheme
from app.i18n import gettext as _
from app.templating import environment

log = logging.getLogger(__name__)
# fpdf2 logs a warning for every <title> and <desc> in our accessible SVG; they are expected.
logging.getLogger("fpdf.svg").setLevel(logging.ERROR)

FONT = "helvetica"
CHART_WIDTH = 105.0  # mm; the score charts are 480 by 250, so about 55 mm high
PROFILE_WIDTH = 95.0  # mm; the profile is tall (one bar per dimension)
_PLAIN = str.maketrans(
    {
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": ",",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2026": "...",
        "\u2022": "\u00b7",
        "\u25b2": "^",
        "\u25bc": "v",
        "\u2191": "^",
        "\u2193": "v",
        "\u2192": "->",
        "\u2190": "<-",
        "\u2264": "<=",
        "\u2265": ">=",
        "\u20ac": "EUR",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
    }
)


def pdf_text(text: str) -> str:
    """Text the PDF core fonts can show: latin-1, typographic marks made plain, the rest '?'."""
    out: list[str] = []
    for char in str(text).translate(_PLAIN):
        if char == "\n" or " " <= char <= "~" or "\u00a0" <= char <= "\u00ff":
            out.append(char)
            continue
        if unicodedata.category(char) in ("Mn", "Me", "Cf", "Cc", "Cs"):
            continue  # combining marks, zero-width joiners, variation selectors, controls
        plain = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append("".join(c for c in plain if unicodedata.category(c) != "Mn") or "?")
    return "".join(out)


class _ReportPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(90)
        text = _("Page %(page)s of %(pages)s", page=self.page_no(), pages="{nb}")
        self.cell(0, 6, pdf_text(text), align="C")
        self.set_text_color(0)


def report_pdf(
    report: TrajectoryReport,
    *,
    charts: Sequence[tuple[SubscaleReport, Markup]],
    profile_chart: Markup | None,
) -> bytes:
    """The report as PDF bytes, in the current locale (the professional's)."""
    labels = environment.get_template("macros/labels.html").make_module({})
    view = report.view
    locale = report.locale

    def label(macro: str, value: str) -> str:
        return html.unescape(str(getattr(labels, macro)(value))).strip()

    def day(value: date | None) -> str:
        return format_date(value, format="long", locale=locale) if value else "-"

    def number(value: float | None, decimals: int = 1) -> str:
        if value is None:
            return "-"
        text = f"{value:.{decimals}f}"
        return text.replace(".", ",") if locale == "nl" else text

    pdf = _ReportPDF(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(pdf_text(_("Trajectory report")))
    pdf.set_creator("Dyade")
    pdf.add_page()

    def heading(text: str, size: float = 13, space: float = 4) -> None:
        pdf.ln(space)
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(0, size * 0.5, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font(FONT, size=10)

    def paragraph(text: str, size: float = 10, style: str = "") -> None:
        pdf.set_font(FONT, style, size)
        pdf.multi_cell(0, size * 0.5, pdf_text(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=10)

    def table(rows: list[list[str]], widths: Sequence[float], headings: bool = True) -> None:
        pdf.set_font(FONT, size=9)
        with pdf.table(
            col_widths=tuple(widths),
            first_row_as_headings=headings,
            line_height=4.6,
            text_align="LEFT",
        ) as grid:
            for values in rows:
                row = grid.row()
                for value in values:
                    row.cell(pdf_text(value))
        pdf.set_font(FONT, size=10)

    def keep_together(height: float) -> None:
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()

    def chart(svg: Markup, width: float) -> bool:
        pdf.set_font(FONT, size=10)
        try:
            pdf.image(io.BytesIO(pdf_text(str(svg)).encode("utf-8")), w=width)
        except Exception:  # a chart must never cost the whole report
            log.warning("A chart could not be drawn in the PDF report", exc_info=True)
            return False
        return True

    # ---- title and facts
    pdf.set_font(FONT, "B", 20)
    pdf.cell(0, 10, pdf_text(_("Trajectory report")), new_x="LMARGIN", new_y="NEXT")
    paragraph(
        _(
            "%(professional)s about %(name)s",
            professional=view.professional.display_name,
            name=view.relationship.pseudonym,
        ),
        size=12,
    )
    pdf.ln(3)
    period = (
        _("Completed on %(date)s", date=day(report.completed_on))
        if report.completed_on
        else _("Under way")
    )
    table(
        [
            [_("Professional"), view.professional.display_name],
            [_("Focus relationship"), view.relationship.pseudonym],
            [_("Sector"), label("sector", view.relationship.sector)],
            [_("Programme"), report.programme_title],
            [_("Started on"), day(report.started_on)],
            [_("Status"), period],
            [_("Last session finished on"), day(report.last_session_on)],
        ],
        (55, 119),
        headings=False,
    )

    # ---- scores
    heading(_("Questionnaires over time"), space=6)
    if charts:
        paragraph(
            _(
                "▲ reliably better and ▼ reliably worse than at the intake "
                "(reliable change index, |RC| > 1.96)."
            ),
            size=9,
        )
    else:
        paragraph(_("No questionnaires filled in yet."))
    for item, svg in charts:
        keep_together(80)  # the chart and its table; the reading may run on
        series = item.series
        pdf.ln(4)
        # The chart carries its own title; without the chart the table needs one.
        if not chart(svg, CHART_WIDTH):
            heading(f"{series.instrument_title[locale]}: {series.label[locale]}", size=11)
        rows = [[_("Measurement"), _("Score"), _("Change since intake")]]
        for point in series.points:
            change = "-"
            if point.change is not None:
                change = label("change", point.change.classification.value)
                change += f" (RC {number(point.change.rc, 2)}"
                change += ", " + _("provisional") + ")" if point.change.provisional else ")"
            rows.append([label("phase", point.phase), number(point.value), change])
        table(rows, (50, 30, 94))
        paragraph(item.change.reading, size=9, style="I")

    # ---- three words
    keep_together(30)
    heading(_("Three words over time"), space=6)
    if report.three_words:
        table(
            [[_("Session"), _("Three words")]]
            + [[words.session_title, " · ".join(words.words)] for words in report.three_words],
            (60, 114),
        )
    else:
        paragraph(_("No three words given yet."))

    # ---- profile
    keep_together(120 if profile_chart is not None else 30)
    heading(_("Relationship profile"), space=6)
    if report.profile is not None and profile_chart is not None:
        released = report.profile.released_at
        paragraph(
            _(
                "Released by the coach on %(date)s.",
                date=day(released.date() if released else None),
            ),
            size=9,
        )
        if not chart(profile_chart, PROFILE_WIDTH):
            rows = [[_("Dimension"), _("Rating")]]
            for dimension in coding_scheme().dimensions:
                value = report.profile.ratings.get(dimension.key)
                rating = f"{number(value)} ({dimension.min}-{dimension.max})"
                rows.append(
                    [dimension.label.get(locale), rating if value is not None else _("not rated")]
                )
            table(rows, (110, 64))
    else:
        paragraph(_("No profile released yet."))

    # ---- diary
    keep_together(40)
    heading(_("Diary per phase"), space=6)
    if report.diary:
        rows = [
            [
                _("Phase"),
                _("Moments"),
                _("Average feeling (−3 to +3)"),
                _("Anger"),
                _("Helplessness"),
                _("Joy"),
                _("Hidden or faked feelings"),
            ]
        ]
        for phase in report.diary:
            valence = phase.mean_valence
            rows.append(
                [
                    label("phase", phase.phase),
                    str(phase.count),
                    ("+" if valence is not None and valence > 0 else "") + number(valence),
                    f"{phase.emotion_share['anger'] * 100:.0f}%",
                    f"{phase.emotion_share['helplessness'] * 100:.0f}%",
                    f"{phase.emotion_share['joy'] * 100:.0f}%",
                    f"{phase.hidden_or_faked_share * 100:.0f}%",
                ]
            )
        table(rows, (30, 20, 28, 22, 28, 18, 28))
        paragraph(
            _(
                "Percentages: the share of moments in which the feeling was at least "
                "“moderately” present."
            ),
            size=9,
        )
    else:
        paragraph(_("No diary moments yet."))

    # ---- the coach's summary
    keep_together(30)
    heading(_("The coach's summary"), space=6)
    paragraph(view.trajectory.coach_summary or _("The coach has not written a summary yet."))
    return bytes(pdf.output())
