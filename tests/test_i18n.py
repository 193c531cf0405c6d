"""Every message has a Dutch and an English translation, and pages follow the chosen language."""

from __future__ import annotations

import itertools
import re
import tokenize
from pathlib import Path

from app import i18n
from app.i18n_tools import extract_messages, missing_translations
from tests.conftest import Cast, Client


def test_every_message_is_translated_into_dutch_and_english() -> None:
    missing = missing_translations()
    assert missing == {"nl": [], "en": []}, missing


def test_extraction_finds_template_and_code_messages() -> None:
    ids = {m.id for m in extract_messages() if m.id}
    assert "Log in to Dyade" in ids  # a template
    assert "That email address and password do not match." in ids  # Python code


def test_no_message_is_marked_inside_an_f_string() -> None:
    """Babel does not look inside f-strings: a message marked there drops out of the
    catalogue at the next update, and the page shows it in English."""
    marked = re.compile(r"\b(?:_|N_|gettext|ngettext)\(")
    # Python 3.12 splits an f-string into tokens (FSTRING_START ... FSTRING_END); before,
    # it is one STRING token.
    f_start, f_end = getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -1)
    hidden = []
    for path in sorted(Path(i18n.__file__).parent.rglob("*.py")):
        with path.open("rb") as source:
            tokens = list(tokenize.tokenize(source.readline))
        depth = 0
        for token, following in itertools.pairwise(tokens):
            if token.type == f_start:
                depth += 1
            elif token.type == f_end:
                depth -= 1
            elif depth and token.type == tokenize.NAME and following.string == "(":
                if marked.match(token.string + "("):
                    hidden.append(f"{path.name}:{token.start[0]}")
            elif token.type == tokenize.STRING:
                prefix = re.match(r"[A-Za-z]*", token.string)
                if prefix and "f" in prefix.group().lower() and marked.search(token.string):
                    hidden.append(f"{path.name}:{token.start[0]}")
    assert hidden == []


def test_placeholders_survive_translation() -> None:
    with i18n.using_locale("nl"):
        text = i18n.gettext("Invitation sent to %(email)s.", email="a@b.nl")
    assert "a@b.nl" in text
    assert "%(" not in text


def test_plural_forms() -> None:
    with i18n.using_locale("en"):
        assert i18n.ngettext("%(num)s other login ended.", "%(num)s other logins ended.", 1) == (
            "1 other login ended."
        )
        assert "3 other logins" in i18n.ngettext(
            "%(num)s other login ended.", "%(num)s other logins ended.", 3
        )


def test_the_browser_language_is_used_before_login(client: Client) -> None:
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.text
    assert "Log in to Dyade" in page.text
    page = client.get("/login", headers={"Accept-Language": "de-DE"})
    assert '<html lang="nl">' in page.text


def test_a_logged_in_user_sees_their_own_language(client: Client, cast: Cast) -> None:
    client.login_as(cast.unassigned_professional)  # prefers English
    assert "Hello Pia Prof" in client.get("/home").text
