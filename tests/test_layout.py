"""The page frame written in Python (app/layout.py): menu, header tools, autosave messages."""

from __future__ import annotations

from dataclasses import dataclass

from app import i18n
from app.layout import autosave_messages, header_tools, main_menu


@dataclass
class _Actor:
    roles: frozenset[str]
    display_name: str = "Pim <Prof> & co"

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


def _links(menu: str) -> list[str]:
    return [part.split('"')[0] for part in menu.split('<a href="')[1:]]


def test_the_menu_shows_each_role_its_own_pages_and_marks_the_current_one() -> None:
    with i18n.using_locale("nl"):
        professional = main_menu(_Actor(frozenset({"professional"})), "/sessions/4", lambda: 0)
        admin = main_menu(_Actor(frozenset({"admin"})), "/admin/users/3", lambda: 2)

    assert _links(professional) == ["/home", "/relationships", "/notifications"]
    assert '<a href="/relationships" aria-current="page">Mijn relaties</a>' in professional
    assert "badge" not in professional
    assert "/admin/outbox" not in admin  # only in development
    assert _links(admin)[:3] == ["/home", "/instruments", "/admin/users"]
    assert '<a href="/admin/users" aria-current="page">' in admin
    assert '<span class="badge">2<span class="visually-hidden"> nieuw</span></span>' in admin
    developing = main_menu(_Actor(frozenset({"admin"})), "/home", lambda: 0, dev_mode=True)
    assert "/admin/outbox" in developing
    # "Start" is current only on /home itself, not on every page below it.
    assert 'href="/home" aria-current' not in main_menu(
        _Actor(frozenset({"coach"})), "/home-else", lambda: 0
    )


def test_the_header_tools_escape_what_comes_from_people() -> None:
    with i18n.using_locale("en"):
        tools = header_tools(_Actor(frozenset()), "/a", 'q="><script>', "tok&en", "en")
        anonymous = header_tools(None, "/login", "", "t", "nl")

    assert "Pim &lt;Prof&gt; &amp; co" in tools
    assert 'value="/a?q=&#34;&gt;&lt;script&gt;"' in tools
    assert tools.count('name="csrf_token" value="tok&amp;en"') == 2  # language and log-out
    assert 'value="en" lang="en" aria-pressed="true" class="is-current"' in tools
    assert "/logout" not in anonymous and "account-link" not in anonymous


def test_the_autosave_messages_are_in_the_page_language() -> None:
    dutch, english = autosave_messages("nl"), autosave_messages("en")
    assert 'data-saving="Opslaan…"' in dutch
    assert 'data-counter="{count} van {limit} tekens"' in dutch
    assert 'data-saving="Saving…"' in english
    assert 'data-counter="{count} of {limit} characters"' in english
    assert dutch != english
