"""Reading plain HTML form posts: lengths checked, nothing the user typed thrown away."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.requests import Request

from app.i18n import gettext as _

#: The largest object id the database columns hold (PostgreSQL INTEGER).
MAX_ID = 2**31 - 1


def parse_id(raw: str) -> int | None:
    """A posted object id, or None when it is not one the database could hold."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def parse_version(raw: str) -> int | None:
    """A posted revision counter (0 for "nothing saved yet"), or None when it is not one."""
    text = raw.strip() or "0"
    if text == "0":
        return 0
    return parse_id(text)


@dataclass
class FormInput:
    """The posted values (as typed) and the problems found, keyed by field name."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def require(self, name: str, message: str) -> str:
        value = self.get(name).strip()
        if not value and name not in self.errors:
            self.errors[name] = message
        return value

    def check_length(self, name: str, limit: int) -> None:
        if len(self.get(name)) > limit and name not in self.errors:
            self.errors[name] = _(
                "This is too long: at most %(limit)s characters (you typed %(count)s).",
                limit=limit,
                count=len(self.get(name)),
            )

    @property
    def ok(self) -> bool:
        return not self.errors


def _strings(form: FormData) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key not in values:
            values[key] = value
    return values


@dataclass
class PostedForm(FormInput):
    """A posted form, including every value of repeated fields (checkbox groups)."""

    lists: dict[str, list[str]] = field(default_factory=dict)

    def get_list(self, name: str) -> list[str]:
        return self.lists.get(name, [])


async def posted_form(request: Request) -> PostedForm:
    """The posted form as strings (read in the event loop, so routes can stay sync)."""
    form = await request.form()
    values = _strings(form)
    values.pop("csrf_token", None)
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
    return PostedForm(values=values, lists=lists)


FormDep = Annotated[PostedForm, Depends(posted_form)]


def optional_date(value: str | None, errors: list[str], message: str) -> date | None:
    """A YYYY-MM-DD date from a query string; an unreadable one adds `message` to errors."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(message)
        return None
