"""Reading plain HTML form posts: lengths checked, nothing the user typed thrown away."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.requests import Request

from app.i18n import gettext as _

# The largest id or counter the database columns hold (32-bit INTEGER on PostgreSQL).
MAX_WHOLE_NUMBER = 2**31 - 1


def whole_number(raw: str | None) -> int | None:
    """A posted or queried whole number 0…2³¹−1 in ASCII digits, else None.

    int() also takes "²"-like digits (str.isdigit says yes, int refuses), "٣", "1_0" and
    numbers too large for a database column, which then fail deep in a query.
    """
    text = (raw or "").strip()
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_WHOLE_NUMBER else None


def parse_id(raw: str | None) -> int | None:
    """A posted object id, or None when it is not one the database could hold."""
    value = whole_number(raw)
    return value if value else None


def parse_version(raw: str | None) -> int | None:
    """A posted revision counter (0 for "nothing saved yet"), or None when it is not one."""
    return whole_number((raw or "").strip() or "0")


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
