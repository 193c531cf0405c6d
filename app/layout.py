"""The parts of the page frame that every page draws: the menu, the header tools and the
autosave messages, written in Python.

In layouts/base.html they cost about a tenth of a questionnaire page's work: Jinja spends
some twenty function calls on every `_()` and `actor.has()`, and the frame has fifty of
them. Here each is one string. Every value is escaped; the messages come from our own
catalogue and are trusted, as Jinja's gettext trusts them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from markupsafe import Markup, escape

from app import i18n
from app.i18n import N_


class _Item(NamedTuple):
    """A menu item: who sees it (None: everyone logged in), where it goes, its name, and
    the paths on which it is the current item (prefixes, or the exact path)."""

    roles: tuple[str, ...] | None
    href: str
    name: str
    current_on: tuple[str, ...]
    exact: bool = False
    development_only: bool = False


_MENU = (
    _Item(None, "/home", N_("Start"), ("/home",), exact=True),
    _Item(
        ("professional",),
        "/relationships",
        N_("My relationships"),
        ("/relationships", "/trajectories", "/sessions"),
    ),
    _Item(("coach",), "/coach", N_("My caseload"), ("/coach",)),
    _Item(
        ("admin", "coach"),
        "/instruments",
        N_("Questionnaires"),
        ("/instruments", "/admin/instruments"),
    ),
    _Item(("supervisor",), "/dashboard", N_("Dashboard"), ("/dashboard",)),
    _Item(("admin",), "/admin/users", N_("People"), ("/admin/users",)),
    _Item(None, "/notifications", N_("Messages"), ("/notifications",), exact=True),
    _Item(("admin",), "/admin/teams", N_("Teams"), ("/admin/teams",)),
    _Item(("admin",), "/admin/reminders", N_("Reminders"), ("/admin/reminders",)),
    _Item(("admin",), "/admin/audit", N_("Audit trail"), ("/admin/audit",)),
    _Item(("admin",), "/admin/settings", N_("Settings"), ("/admin/settings",)),
    _Item(("admin",), "/admin/research", N_("Research export"), ("/admin/research",)),
    _Item(("admin",), "/admin/outbox", N_("Outbox"), ("/admin/outbox",), development_only=True),
)
_MESSAGES = "/notifications"


def main_menu(
    actor: Any, path: str, unread_messages: Callable[[], int], dev_mode: bool = False
) -> Markup:
    """The main menu's items for this person, the current page's item marked."""
    items = []
    for item in _MENU:
        if (item.development_only and not dev_mode) or (
            item.roles is not None and not actor.has(*item.roles)
        ):
            continue
        current = path in item.current_on if item.exact else path.startswith(item.current_on)
        marked = ' aria-current="page"' if current else ""
        label = i18n.markup(item.name)
        if item.href == _MESSAGES:
            unread = unread_messages()
            if unread:
                new = i18n.markup(N_("new"))  # outside the f-string, where Babel finds it
                label += Markup(  # noqa: S704 - a number and our catalogue # nosec B704
                    f' <span class="badge">{int(unread)}<span class="visually-hidden"> '
                    f"{new}</span></span>"
                )
        items.append(f'<li><a href="{item.href}"{marked}>{label}</a></li>')
    return Markup("\n".join(items))  # noqa: S704 - escaped or ours # nosec B704


def header_tools(actor: Any, path: str, query: str, csrf_token: str, locale: str) -> Markup:
    """The language switch, and for a logged-in person their name and the log-out button."""
    csrf = f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">'
    here = escape(path + ("?" + query if query else ""))
    buttons = []
    for code, name in i18n.LOCALE_NAMES.items():
        pressed = ' aria-pressed="false"'
        if code == locale:
            pressed = ' aria-pressed="true" class="is-current"'
        buttons.append(
            f'<button type="submit" name="locale" value="{code}" lang="{code}"{pressed}>'
            f"{escape(name)}</button>"
        )
    parts = [
        '<form method="post" action="/language" class="lang-switch">',
        csrf,
        f'<input type="hidden" name="next" value="{here}">',
        *buttons,
        "</form>",
    ]
    if actor:
        log_out = i18n.markup(N_("Log out"))  # outside the f-string, where Babel finds it
        parts += [
            f'<a class="account-link" href="/account">{escape(actor.display_name)}</a>',
            '<form method="post" action="/logout">',
            csrf,
            f'<button type="submit" class="link-button">{log_out}</button>',
            "</form>",
        ]
    return Markup("\n".join(parts))  # noqa: S704 - escaped or ours # nosec B704


@lru_cache(maxsize=8)
def autosave_messages(locale: str) -> Markup:
    """What the autosave script says, as data attributes (the same on every page)."""
    with i18n.using_locale(locale):
        counter = i18n.markup(
            N_("%(count)s of %(limit)s characters"), count="{count}", limit="{limit}"
        )
        labels = {
            "saving": i18n.markup(N_("Saving…")),
            "failed": i18n.markup(N_("Not saved. Your text is still here; try again in a moment.")),
            "offline": i18n.markup(N_("No connection. Your text is still here; we keep trying.")),
            "logged-out": i18n.markup(
                N_("Your login has expired. Your text is still here; log in again to save it.")
            ),
            "counter": counter,
            "conflict-title": i18n.markup(N_("This answer was changed in another window")),
            "conflict-intro": i18n.markup(
                N_(
                    "Someone (perhaps you, in another tab or on another device) saved a newer "
                    "version. Choose which text to keep; nothing is lost."
                )
            ),
            "saved-version": i18n.markup(N_("Saved version")),
            "keep-mine": i18n.markup(N_("Keep the text in this window")),
            "use-saved": i18n.markup(N_("Use the saved version")),
        }
    attributes = " ".join(f'data-{key}="{value}"' for key, value in labels.items())
    return Markup(  # noqa: S704 - our own catalogue # nosec B704
        f'<div id="autosave-labels" hidden {attributes}></div>'
    )
