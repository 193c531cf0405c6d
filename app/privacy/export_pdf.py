"""The personal-data download as a PDF (fpdf2 core fonts, as the trajectory report)."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime
from fpdf import FPDF

from app.coaching.report_pdf import FONT, pdf_text
from app.i18n import Locale, local_zone
from app.i18n import gettext as _
from app.privacy.export import PersonalData
from app.templating import environment


class _DataPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(90)
        text = _("Page %(page)s of %(pages)s", page=self.page_no(), pages="{nb}")
        self.cell(0, 6, pdf_text(text), align="C")
        self.set_text_color(0)


def _values(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items() if v not in (None, "", []))


def personal_data_pdf(data: PersonalData, *, locale: Locale) -> bytes:
    """Everything on the "My data" page as PDF bytes, in the current locale."""
    labels = environment.get_template("macros/labels.html").make_module({})

    def label(macro: str, value: str) -> str:
        return html.unescape(str(getattr(labels, macro)(value))).strip()

    def when(value: datetime | date | None) -> str:
        if value is None:
            return "-"
        if isinstance(value, datetime):
            return format_datetime(value.astimezone(local_zone()), "medium", locale=locale)
        return format_date(value, "long", locale=locale)

    def number(value: Any) -> str:
        if not isinstance(value, int | float):
            return "-"
        text = f"{value:.1f}"
        return text.replace(".", ",") if locale == "nl" else text

    pdf = _DataPDF(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(pdf_text(_("Your data in Dyade")))
    pdf.set_creator("Dyade")
    pdf.add_page()

    def heading(text: str, size: float = 13) -> None:
        pdf.ln(4)
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(0, size * 0.5, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font(FONT, size=10)

    def line(text: str, style: str = "", size: float = 10) -> None:
        pdf.set_font(FONT, style, size)
        pdf.multi_cell(0, size * 0.5, pdf_text(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=10)

    def fact(name: str, value: str) -> None:
        line(f"{name}: {value}")

    user = data.user
    pdf.set_font(FONT, "B", 20)
    pdf.cell(0, 10, pdf_text(_("Your data in Dyade")), new_x="LMARGIN", new_y="NEXT")
    line(_("Downloaded on %(date)s", date=when(data.exported_at)), size=9)

    heading(_("Account"))
    fact(_("Name"), user.display_name)
    fact(_("Email address"), user.email)
    fact(_("Organisation"), data.organisation.name)
    fact(_("Roles"), ", ".join(label("role", r) for r in data.roles))
    fact(_("Account created on"), when(user.created_at))
    fact(_("Last login"), when(user.last_login_at))
    if data.coach_ids:
        fact(_("Your coaches"), ", ".join(data.name(i) for i in data.coach_ids))

    heading(_("Focus relationships"))
    if not data.relationships:
        line(_("None."))
    for relationship in data.relationships:
        line(
            f"{relationship.pseudonym} - {label('sector', relationship.sector)}, "
            f"{label('age_band', relationship.age_band)}"
            + (f", {relationship.setting}" if relationship.setting else "")
        )

    for item in data.trajectories:
        t = item.trajectory
        name = item.relationship.pseudonym if item.relationship else "-"
        heading(_("Programme about %(name)s", name=name), size=14)
        fact(_("Programme"), item.programme_title)
        fact(_("Status"), label("trajectory_status", t.status))
        fact(_("Started on"), when(t.created_at))
        fact(_("Completed on"), when(t.completed_at))
        fact(_("Coach"), data.name(t.coach_id) or "-")
        for s in item.sessions:
            heading(f"{s.title} ({label('session_status', s.session.status)})", size=11)
            for a in s.answers:
                title = s.step_titles.get(a.step_key, a.step_key)
                draft = " (" + _("draft") + ")" if a.submitted_at is None else ""
                line(f"{title}{draft}", style="B", size=10)
                if a.words:
                    line(" · ".join(w for w in a.words if w))
                if a.text:
                    line(a.text)
            for response in s.responses:
                title = data.instrument_title(
                    response.instrument_key, response.instrument_version, locale
                )
                line(f"{title} (v{response.instrument_version})", style="B")
                scores = "; ".join(
                    f"{name} {number(value)}" for name, value in data.scores(response, locale)
                )
                line(_("Scores: %(scores)s", scores=scores or "-"), size=9)
                line(_("Answers: %(answers)s", answers=_values(response.answers)), size=9)
            for coding in s.codings:
                line(_("Coding by %(coach)s", coach=data.name(coding.coach_id) or "-"), style="B")
                line(_values(coding.ratings), size=9)
                for quote in data.evidence.get(coding.id or 0, []):
                    line(f'"{quote.quote}" {quote.note}', size=9)
        if item.diary:
            heading(_("Diary"), size=11)
            for d in item.diary:
                line(f"{when(d.occurred_on)}: {_values(d.values)}", size=9)
        if item.pulse:
            heading(_("Daily pulse"), size=11)
            for p in item.pulse:
                line(f"{when(p.day)}: {_values(p.answers)}", size=9)
        if item.experiments:
            heading(_("Experiment log"), size=11)
            for x in item.experiments:
                line(f"{when(x.occurred_on)} ({x.how_it_went}/5): {x.what_i_did}", size=9)
        if item.feedback:
            heading(_("Feedback from your coach"), size=11)
            for f in item.feedback:
                line(f"{when(f.created_at)}, {data.name(f.coach_id)}: {f.text}", size=9)
        if item.consents:
            heading(_("Consent"), size=11)
            for record in item.consents:
                given = _("given") if record.given else _("withdrawn")
                version = _("wording version %(n)s", n=record.wording_version)
                line(
                    f"{when(record.recorded_at)}: {_purpose(record.purpose)} - {given} ({version})",
                    size=9,
                )

    heading(_("Notifications"))
    for n in data.notifications:
        line(f"{when(n.created_at)}: {n.kind} {n.link}", size=9)
    heading(_("Logins"))
    for login in data.logins:
        line(f"{when(login.created_at)} - {login.ip_address} - {login.user_agent}", size=9)
    heading(_("Who looked at your data"))
    for event in data.access_log:
        who = data.name(event.actor_id) or event.actor_role
        line(f"{when(event.created_at)}: {who} ({event.actor_role}) - {event.action}", size=9)
    return bytes(pdf.output())


def _purpose(value: str) -> str:
    return _("Taking part in the programme") if value == "programme" else _("Research use")
