"""Keeping the nl/en catalogues in step with the code and templates (Babel)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app.i18n import LOCALE_DIR, LOCALES

APP_DIR = Path(__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHOD_MAP = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**/templates/**.txt", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS_MAP = {
    "**/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "newstyle_gettext": "true",
        "trimmed": "false",
    },
    "**/templates/**.txt": {
        "extensions": "jinja2.ext.i18n",
        "newstyle_gettext": "true",
        "trimmed": "false",
    },
}


def extract_messages() -> Catalog:
    """Every translatable message in the app's code and templates."""
    template = Catalog(project="Dyade", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(APP_DIR), METHOD_MAP, OPTIONS_MAP, keywords=KEYWORDS, strip_comment_tags=True
    ):
        # Skip the instrument definitions (translated in their own files) and tools.
        if filename.startswith("instruments/"):
            continue
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


def load_catalogue(locale: str) -> Catalog:
    path = _po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="Dyade")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def missing_translations() -> dict[str, list[str]]:
    """Per locale, the extracted messages with no (or a fuzzy) translation."""
    template = extract_messages()
    missing: dict[str, list[str]] = {}
    for locale in LOCALES:
        catalogue = load_catalogue(locale)
        gaps = []
        for message in template:
            if not message.id:
                continue
            found = catalogue.get(message.id)
            strings = found.string if found else None
            complete = all(strings) if isinstance(strings, tuple | list) else bool(strings)
            if found is None or found.fuzzy or not complete:
                gaps.append(str(message.id if isinstance(message.id, str) else message.id[0]))
        missing[locale] = gaps
    return missing


def update_catalogues(*, check: bool = False) -> int:
    """Merge new messages into the catalogues (English is filled from the source text)."""
    template = extract_messages()
    if not check:
        for locale in LOCALES:
            catalogue = load_catalogue(locale)
            catalogue.update(template, no_fuzzy_matching=True)
            catalogue.obsolete.clear()
            if locale == "en":
                for message in catalogue:
                    empty = not message.string or (
                        isinstance(message.string, tuple | list) and not all(message.string)
                    )
                    if message.id and empty:
                        # The English source text is the English translation.
                        message.string = message.id

            path = _po_path(locale)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                write_po(handle, catalogue, width=100, sort_output=False, omit_header=False)
    missing = missing_translations()
    for code, gaps in missing.items():
        for msgid in gaps:
            print(f"missing {code}: {msgid}")
    return 1 if any(missing.values()) else 0
