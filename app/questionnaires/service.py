"""The instruments an organisation can use: built-in ones and its own uploads.

Also what the preview page needs: an instrument turned into form questions (texts filled
in for a locale, sector and pseudonym), posted answers read back with a message for every
problem, and subscale scores for a try-out. Nothing here stores answers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Final, NamedTuple

from babel.numbers import format_decimal
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import i18n
from app.definition_files import MAX_UPLOAD_BYTES
from app.deps import Actor
from app.errors import NotFound
from app.i18n import N_
from app.i18n import gettext as _
from app.instruments import (
    LOCALES,
    SECTORS,
    DefinitionError,
    InstrumentDefinition,
    Locale,
    Problem,
    Sector,
    check_diary_entry,
    load_builtin,
    load_definition,
    parse_definition_bytes,
    render_instructions,
    render_text,
    score_range,
    score_response,
)
from app.instruments.schema import DiaryField, Item, ResponseScale
from app.models import OrganisationInstrument
from app.policies import in_organisation

#: Form field names of answers: "item-<key>" for questionnaire items and diary fields
#: alike, so they never clash with the page's own fields (instrument, locale, name, ...).
ANSWER_PREFIX: Final = "item-"
DEFAULT_NAME: Final = "Sam"
NAME_LIMIT: Final = 40
DEFAULT_SECTOR: Final[Sector] = "education"
# The column size of organisation_instrument's titles (the loader limits keys).
TITLE_LIMIT: Final = 200
KIND_ORDER: Final = ("questionnaire", "pulse", "diary")
#: Built-ins in the order the programme uses them; others follow by key.
BUILTIN_ORDER: Final = ("relationship", "efficacy", "strain", "empathy", "alliance")

KIND_LABELS: Final = {
    "questionnaire": N_("Questionnaire"),
    "pulse": N_("Daily check-in"),
    "diary": N_("Diary"),
}
RULE_LABELS: Final = {
    "mean": N_("mean of the answers"),
    "sum": N_("sum of the answers"),
    "rescale_0_100": N_("mean, rescaled to 0–100"),
}

_LOCALES: Final[dict[str, Locale]] = {locale: locale for locale in LOCALES}
_SECTORS: Final[dict[str, Sector]] = {sector: sector for sector in SECTORS}
_REF = re.compile(r"([a-z][a-z0-9_]*)-v([1-9][0-9]{0,8})")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,6}")


# --- the organisation's instruments ------------------------------------------------------


@dataclass(frozen=True)
class InstrumentEntry:
    """One instrument the organisation can use, as the list and the preview show it."""

    key: str
    version: int
    kind: str
    title_nl: str
    title_en: str
    uploaded: bool
    uploaded_at: datetime | None = None
    #: None when a stored upload no longer passes the checks (see `problems`).
    definition: InstrumentDefinition | None = None
    problems: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The instrument's name in URLs and forms: "<key>-v<version>"."""
        return f"{self.key}-v{self.version}"

    def title(self, locale: str) -> str:
        """The title in a locale (Dutch unless English is asked for)."""
        return self.title_en if locale == "en" else self.title_nl


def _builtin_entry(definition: InstrumentDefinition) -> InstrumentEntry:
    return InstrumentEntry(
        key=definition.key,
        version=definition.version,
        kind=definition.kind,
        title_nl=definition.title.nl,
        title_en=definition.title.en,
        uploaded=False,
        definition=definition,
    )


@lru_cache(maxsize=128)
def _parse_stored(source: str, source_name: str) -> InstrumentDefinition:
    # Stored uploads passed the checks when they came in; parsing again (cached) keeps
    # the database holding only the file, and notices if the rules became stricter.
    return load_definition(source, source_name=source_name, check_file_name=False)


def _uploaded_entry(row: OrganisationInstrument) -> InstrumentEntry:
    entry = InstrumentEntry(
        key=row.key,
        version=row.version,
        kind=row.kind,
        title_nl=row.title_nl,
        title_en=row.title_en,
        uploaded=True,
        uploaded_at=row.created_at,
    )
    try:
        definition = _parse_stored(row.source, f"{row.key}-v{row.version}.toml")
    except DefinitionError as exc:
        return replace(entry, problems=tuple(map(str, exc.problems)))
    return replace(entry, definition=definition)


def _sort_key(entry: InstrumentEntry) -> tuple[bool, int, int, str, int]:
    kind = KIND_ORDER.index(entry.kind) if entry.kind in KIND_ORDER else len(KIND_ORDER)
    known = entry.key in BUILTIN_ORDER and not entry.uploaded
    position = BUILTIN_ORDER.index(entry.key) if known else len(BUILTIN_ORDER)
    return entry.uploaded, kind, position, entry.key, entry.version


def list_instruments(session: Session, *, actor: Actor) -> list[InstrumentEntry]:
    """The built-in instruments and the organisation's own uploads (one query)."""
    builtin = load_builtin()
    entries = [_builtin_entry(definition) for definition in builtin.values()]
    rows = session.exec(
        in_organisation(select(OrganisationInstrument), OrganisationInstrument, actor)
    ).all()
    # Uploads cannot take a built-in key, but a later release could ship one that an
    # organisation already uploaded; the built-in then wins, as in get_instrument.
    entries += [_uploaded_entry(row) for row in rows if (row.key, row.version) not in builtin]
    return sorted(entries, key=_sort_key)


def get_instrument(
    session: Session, *, actor: Actor, key: str, version: int
) -> InstrumentDefinition:
    """A built-in definition or one of the organisation's uploads; NotFound otherwise."""
    builtin = load_builtin().get((key, version))
    if builtin is not None:
        return builtin
    row = session.exec(
        in_organisation(select(OrganisationInstrument), OrganisationInstrument, actor).where(
            OrganisationInstrument.key == key, OrganisationInstrument.version == version
        )
    ).first()
    if row is None:
        raise NotFound()
    entry = _uploaded_entry(row)
    if entry.definition is None:
        raise NotFound()
    return entry.definition


def parse_ref(ref: str) -> tuple[str, int]:
    """Split "<key>-v<version>" into key and version; NotFound if it is not one."""
    match = _REF.fullmatch(ref)
    if match is None:
        raise NotFound()
    return match.group(1), int(match.group(2))


# --- uploading ---------------------------------------------------------------------------


def upload_file_name(filename: str) -> str:
    """The uploaded file's own name, without any folders the browser sent along."""
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    return name[:200] or "upload.toml"


def _upload_problems(
    session: Session, actor: Actor, definition: InstrumentDefinition
) -> Iterator[tuple[str | None, str]]:
    key, version = definition.key, definition.version
    if key in {builtin_key for builtin_key, _version in load_builtin()}:
        yield None, f'key "{key}" is already used by a built-in instrument; choose another key'
    else:
        existing = session.exec(
            in_organisation(select(OrganisationInstrument), OrganisationInstrument, actor).where(
                OrganisationInstrument.key == key, OrganisationInstrument.version == version
            )
        ).first()
        if existing is not None:
            yield None, _already_uploaded(definition)
    for locale in LOCALES:
        length = len(definition.title.get(locale))
        if length > TITLE_LIMIT:
            yield (
                "title",
                f'"{locale}" title is {length} characters long; the limit is {TITLE_LIMIT}',
            )


def upload_instrument(
    session: Session, *, actor: Actor, filename: str, data: bytes, size: int | None = None
) -> OrganisationInstrument:
    """Check an uploaded definition file and store it for the organisation.

    Raises DefinitionError listing every problem; then nothing is stored. `size` is the
    file's full size when `data` holds only its first part.
    """
    source = upload_file_name(filename)
    if size is not None and size > MAX_UPLOAD_BYTES:
        # The route reads only just past the limit; say how big the file really was.
        limit = f"the limit is {MAX_UPLOAD_BYTES} bytes (256 KiB)"
        raise DefinitionError([Problem(source, None, f"file is {size} bytes; {limit}")])
    definition = parse_definition_bytes(data, source)
    problems = [Problem(source, w, m) for w, m in _upload_problems(session, actor, definition)]
    if problems:
        raise DefinitionError(problems)
    text = data.decode("utf-8-sig")
    row = OrganisationInstrument(
        organisation_id=actor.organisation_id,
        key=definition.key,
        version=definition.version,
        kind=definition.kind,
        title_nl=definition.title.nl,
        title_en=definition.title.en,
        source=text,
        # Of the stored text, so the row can be checked against itself.
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        uploaded_by_id=actor.id,
    )
    try:
        # Two admins uploading the same version at once: the unique constraint decides,
        # and the second gets the same message as if it had come later.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise DefinitionError([Problem(source, None, _already_uploaded(definition))]) from None
    return row


def _already_uploaded(definition: InstrumentDefinition) -> str:
    return (
        f'"{definition.key}" version {definition.version} has already been uploaded; to '
        "change it, upload the file with a higher version number"
    )


# --- instruments as forms ----------------------------------------------------------------


class ScalePoint(NamedTuple):
    """One answer of a response scale: its value, how it is shown, its label if it has one.

    A tuple, so that comparing and hashing (a question's HTML is cached by its points, see
    `_frame`) run in C."""

    value: int
    shown: str
    label: str | None


class TagChoice(NamedTuple):
    """One option of a tags question."""

    key: str
    label: str


@dataclass(frozen=True)
class Question:
    """One question of the form: a radio group ("scale"), checkboxes ("tags") or "text"."""

    key: str
    kind: str
    text: str
    required: bool
    number: int | None = None
    points: tuple[ScalePoint, ...] = ()
    choices: tuple[TagChoice, ...] = ()
    max_length: int | None = None
    #: What was posted, to show again: the chosen value or text, or the checked tags.
    value: str = ""
    values: tuple[str, ...] = ()
    error: str | None = None

    @property
    def anchor(self) -> str:
        """The id of the question's fieldset (error summary links point here); also its
        answer's field name."""
        return ANSWER_PREFIX + self.key

    def html(self, locale: str, *, all_required: bool, save_url: str | None = None) -> Markup:
        """The whole question as HTML: a fieldset of radios or checkboxes, or a text field.

        Built here rather than in a Jinja macro: the questions are most of a questionnaire
        page's render time, and a macro call costs more than the string it makes. The
        parts that do not depend on the answer are built once per question text and
        language (`_frame`); the answer then only marks a radio or checkboxes as checked,
        or fills the text field. With `save_url`, the question posts itself on change (see
        macros/instrument.html).
        """
        frame = _frame(
            self.key,
            self.kind,
            self.text,
            self.required,
            self.number,
            self.points,
            self.choices,
            self.max_length,
            self.error,
            locale,
            i18n.get_locale(),
            all_required,
            save_url is not None,
        )
        save = f' hx-post="{escape(save_url)}"{frame.save}' if save_url is not None else ""
        if self.kind == "text":
            middle = str(escape(self.value))
        elif self.kind == "scale":
            at = frame.checked_at.get(self.value)
            middle = (
                frame.radios if at is None else f"{frame.radios[:at]} checked{frame.radios[at:]}"
            )
        else:
            middle = "\n".join(
                checked if value in self.values else unchecked
                for value, unchecked, checked in frame.options
            )
        # Every part is escaped where it is built (in `_frame`, or just above).
        return Markup(f"{frame.opening}{save}{frame.head}{middle}{frame.tail}")  # noqa: S704 # nosec B704


class _Frame(NamedTuple):
    """A question's HTML apart from its answer: see `Question.html`."""

    opening: str  # up to where the save attributes go, inside the opening tag
    save: str  # the save attributes after hx-post (empty without a save URL)
    head: str  # from the end of the opening tag to the options or the text
    #: (value, HTML unchecked, HTML checked) for each checkbox of a tags question
    options: tuple[tuple[str, str, str], ...]
    tail: str
    #: A scale's radios, none checked, and where " checked" goes for each value.
    radios: str = ""
    checked_at: Mapping[str, int] = {}


# About 3 kB a question: 2,048 questions (a hundred or so people's questionnaires, each
# with its own pseudonym in the texts) take about 7 MB (measured with tracemalloc).
@lru_cache(maxsize=2048)
def _frame(
    key: str,
    kind: str,
    text: str,
    required: bool,
    number: int | None,
    points: tuple[ScalePoint, ...],
    choices: tuple[TagChoice, ...],
    max_length: int | None,
    error: str | None,
    locale: str,
    ui_locale: str,
    all_required: bool,
    saves: bool,
) -> _Frame:
    """Build a question's HTML around its answer once per text, language and error.

    Every value is escaped; the messages come from our own catalogue (in `ui_locale`, the
    page's language, which may differ from the questions' `locale`), trusted like Jinja's
    gettext trusts them.
    """
    anchor = str(escape(ANSWER_PREFIX + key))
    name, lang = anchor, str(escape(locale))  # the answer's field name is the anchor too
    save = ""
    if saves:
        save = (
            f' hx-trigger="change" hx-include="#{anchor}"'
            f' hx-params="{name}" hx-target="#{anchor}-saved"'
            ' hx-swap="innerHTML" hx-sync="closest .instrument:queue all"'
        )
    note = ""
    if required and not all_required:
        required_word = i18n.markup(N_("required"))  # outside the f-string, where Babel finds it
        note = f' <span class="required-note">({required_word})</span>'
    error_html = ""
    if error:
        error_word = i18n.markup(N_("Error:"))  # outside the f-string, where Babel finds it
        error_html = (
            f'\n  <p class="field-error" id="{anchor}-error"><span class="visually-hidden">'
            f"{error_word}</span> {escape(error)}</p>"
        )
    status = ""
    if saves:
        status = (
            f'\n  <p class="instrument-save-status" id="{anchor}-saved" aria-live="polite"></p>'
        )
    invalid = " field--error" if error else ""
    shown_text = f'<span lang="{lang}">{escape(text)}</span>'
    if kind == "text":
        hint = i18n.markup(N_("At most %(limit)s characters."), limit=max_length)
        described = f"{anchor}-hint {anchor}-error" if error else f"{anchor}-hint"
        attributes = (" required" if required else "") + (' aria-invalid="true"' if error else "")
        return _Frame(
            opening=f'<div class="instrument-question{invalid}" id="{anchor}" tabindex="-1"',
            save=save,
            head=(
                ">\n"
                f'  <label for="{anchor}-input">{shown_text}{note}</label>\n'
                f'  <p class="hint" id="{anchor}-hint">{hint}</p>{error_html}\n'
                f'  <textarea id="{anchor}-input" name="{name}" rows="4"'
                f' maxlength="{max_length}" lang="{lang}"{attributes}'
                f' aria-describedby="{described}">'
            ),
            options=(),
            tail=f"</textarea>{status}\n</div>",
        )
    described_by = f' aria-describedby="{anchor}-error"' if error else ""
    shown_number = f'<span class="question-number">{number}.</span> ' if number else ""
    radios, checked_at = "", dict[str, int]()
    options: tuple[tuple[str, str, str], ...] = ()
    if kind == "scale":
        wrapper = "scale-points"
        radios, checked_at = _scale_radios(anchor, lang, required, points)
    else:
        wrapper, options = "tag-choices", _tag_options(ANSWER_PREFIX + key, lang, choices)
    return _Frame(
        opening=(
            f'<fieldset class="instrument-question{invalid}" id="{anchor}" tabindex="-1"'
            f"{described_by}"
        ),
        save=save,
        head=(
            ">\n"
            f"  <legend>{shown_number}{shown_text}{note}</legend>{error_html}\n"
            f'  <div class="{wrapper}">\n'
        ),
        options=options,
        tail=f"\n  </div>{status}\n</fieldset>",
        radios=radios,
        checked_at=checked_at,
    )


def _scale_radios(
    anchor: str, lang: str, required: bool, points: tuple[ScalePoint, ...]
) -> tuple[str, dict[str, int]]:
    """A scale question's radio buttons (one label around each), none checked, and for
    each value where its radio's " checked" goes."""
    radios: list[str] = []
    checked_at: dict[str, int] = {}
    length = 0
    for point in points:
        value = point.value
        label = (
            f'<span class="scale-anchor" lang="{lang}">{escape(point.label)}</span>'
            if point.label
            else ""
        )
        before = (
            f'<label class="scale-point" for="{anchor}-{value}">\n'
            f'  <input type="radio" id="{anchor}-{value}" name="{anchor}" value="{value}"'
        )
        after = (
            f"{' required' if required else ''}>\n"
            f'  <span class="scale-value">{escape(point.shown)}</span>\n'
            f"  {label}\n"
            "</label>"
        )
        if radios:
            length += 1  # the newline between two radios
        checked_at[str(value)] = length + len(before)
        radios.append(before + after)
        length += len(before) + len(after)
    return "\n".join(radios), checked_at


def _tag_options(
    anchor: str, lang: str, choices: tuple[TagChoice, ...]
) -> tuple[tuple[str, str, str], ...]:
    """The checkboxes of a tags question (`anchor` not yet escaped)."""
    options, name = [], escape(anchor)
    for choice in choices:
        id_ = escape(f"{anchor}-{choice.key}")
        before = (
            f'    <label class="tag-choice" for="{id_}">\n'
            f'      <input type="checkbox" id="{id_}" name="{name}"'
            f' value="{escape(choice.key)}"'
        )
        after = f'>\n      <span lang="{lang}">{escape(choice.label)}</span>\n    </label>'
        options.append((choice.key, before + after, f"{before} checked{after}"))
    return tuple(options)


@dataclass(frozen=True)
class Section:
    """Questions shown together; diary groups share a heading (e.g. "What did you feel?")."""

    heading: str | None
    questions: tuple[Question, ...]

    def html(self, locale: str, *, all_required: bool, save_url: str | None = None) -> Markup:
        """The section's questions one after another (one call from the template, not one
        per question: each costs Jinja a dozen function calls)."""
        return Markup(  # noqa: S704 - Question.html escapes # nosec B704
            "\n".join(
                q.html(locale, all_required=all_required, save_url=save_url) for q in self.questions
            )
        )


@dataclass(frozen=True)
class InstrumentForm:
    """An instrument ready for the form macro, with texts in one locale and sector."""

    key: str
    version: int
    kind: str
    locale: Locale
    title: str
    instructions: str
    all_required: bool
    sections: tuple[Section, ...]
    form_errors: tuple[str, ...] = ()

    @property
    def problems(self) -> list[tuple[str | None, str]]:
        """(link target or None, message) for the error summary, in page order."""
        found: list[tuple[str | None, str]] = [(None, message) for message in self.form_errors]
        for section in self.sections:
            found += [(q.anchor, q.error) for q in section.questions if q.error]
        return found


@dataclass
class Answers:
    """Posted answers read back: as posted (to show again), as values, and what is wrong."""

    posted: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, int | str | tuple[str, ...]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.form_errors


def _shown(value: int, scale: ResponseScale) -> str:
    if scale.min < 0 and value > 0:
        return f"+{value}"
    return str(value).replace("-", "\u2212")


@lru_cache(maxsize=256)
def _points(scale: ResponseScale, locale: Locale) -> tuple[ScalePoint, ...]:
    """The points of a scale in one language (cached: every form of a scale shares them)."""
    return tuple(
        ScalePoint(value, _shown(value, scale), scale.anchor_label(value, locale))
        for value in range(scale.min, scale.max + 1)
    )


def _first(answers: Answers, key: str) -> str:
    values = answers.posted.get(key, [])
    return values[0] if values else ""


def _item_question(
    item: Item,
    number: int,
    points: tuple[ScalePoint, ...],
    answers: Answers,
    text: str,
) -> Question:
    return Question(
        key=item.key,
        kind="scale",
        text=text,
        required=True,
        number=number,
        points=points,
        value=_first(answers, item.key),
        error=answers.errors.get(item.key),
    )


def _diary_question(
    definition: InstrumentDefinition,
    diary_field: DiaryField,
    locale: Locale,
    text: str,
    answers: Answers,
) -> Question:
    points: tuple[ScalePoint, ...] = ()
    if diary_field.type == "scale" and diary_field.scale in definition.scales:
        points = _points(definition.scales[diary_field.scale], locale)
    return Question(
        key=diary_field.key,
        kind=diary_field.type,
        text=text,
        required=diary_field.required,
        points=points,
        choices=tuple(TagChoice(o.key, o.label.get(locale)) for o in diary_field.options),
        max_length=diary_field.max_length,
        value=_first(answers, diary_field.key),
        values=tuple(answers.posted.get(diary_field.key, [])),
        error=answers.errors.get(diary_field.key),
    )


def build_form(
    definition: InstrumentDefinition,
    *,
    locale: Locale,
    sector: Sector | None,
    name: str,
    answers: Answers | None = None,
) -> InstrumentForm:
    """The instrument as form questions, with the pseudonym filled in and answers kept."""
    answers = answers or Answers()
    sections: list[Section] = []
    if definition.kind == "diary":
        groups = {group.key: group for group in definition.groups}
        for diary_field in definition.fields:
            text = render_text(diary_field, locale, sector, name)
            question = _diary_question(definition, diary_field, locale, text, answers)
            group = groups.get(diary_field.group or "")
            heading = render_text(group, locale, sector, name) if group else None
            # Fields of one group that follow each other share one heading.
            if sections and heading is not None and sections[-1].heading == heading:
                last = sections.pop()
                sections.append(Section(heading, (*last.questions, question)))
            else:
                sections.append(Section(heading, (question,)))
    else:
        assert definition.scale is not None  # the loader guarantees one for these kinds
        points = _points(definition.scale, locale)
        questions = tuple(
            _item_question(item, number, points, answers, render_text(item, locale, sector, name))
            for number, item in enumerate(definition.items, start=1)
        )
        sections.append(Section(None, questions))
    return InstrumentForm(
        key=definition.key,
        version=definition.version,
        kind=definition.kind,
        locale=locale,
        title=definition.title.get(locale),
        instructions=render_instructions(definition, locale, sector, name),
        all_required=definition.kind != "diary",
        sections=tuple(sections),
        form_errors=tuple(answers.form_errors),
    )


def _posted_answers(posted: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, values in posted.items():
        if name.startswith(ANSWER_PREFIX):
            found[name.removeprefix(ANSWER_PREFIX)] = [v for v in values if v.strip()]
    return found


def _scale_value(values: list[str], scale: ResponseScale) -> int | None:
    """The one posted value if it is a point of the scale, else None."""
    if len(values) != 1 or not _WHOLE_NUMBER.fullmatch(values[0].strip()):
        return None
    value = int(values[0])
    return value if scale.min <= value <= scale.max else None


def _unknown_keys_message(keys: list[str]) -> str:
    shown = ", ".join(key[:40] for key in keys[:5])
    return _(
        "The form sent answers to questions this instrument does not have (%(keys)s). "
        "Reload the page and try again.",
        keys=shown,
    )


def read_answers(
    definition: InstrumentDefinition,
    posted: Mapping[str, Sequence[str]],
    *,
    name: str = DEFAULT_NAME,
    locale: Locale = "nl",
    sector: Sector | None = None,
) -> Answers:
    """Read posted answers ("item-<key>" fields) and check them against the definition.

    Every questionnaire and pulse item needs an answer (an unanswered item is an error,
    even where the subscale's min_answered would allow a score); a diary field only when
    the file marks it required. Answers outside the scale, unknown tags and questions the
    instrument does not have are errors too.
    """
    answers = Answers(posted=_posted_answers(posted))
    known = (
        [f.key for f in definition.fields]
        if definition.kind == "diary"
        else [i.key for i in definition.items]
    )
    unknown = sorted(key for key in answers.posted if key not in known)
    if unknown:
        answers.form_errors.append(_unknown_keys_message(unknown))
    if definition.kind == "diary":
        _read_diary(definition, answers, name=name, locale=locale, sector=sector)
    else:
        _read_items(definition, answers)
    return answers


def _read_items(definition: InstrumentDefinition, answers: Answers) -> None:
    assert definition.scale is not None
    for number, item in enumerate(definition.items, start=1):
        values = answers.posted.get(item.key, [])
        if not values:
            answers.errors[item.key] = _("Choose an answer to question %(number)s.", number=number)
            continue
        value = _scale_value(values, definition.scale)
        if value is None:
            answers.errors[item.key] = _(
                "The answer to question %(number)s is not one of the choices. Choose one of them.",
                number=number,
            )
        else:
            answers.values[item.key] = value
            answers.posted[item.key] = [str(value)]


def _read_diary(
    definition: InstrumentDefinition,
    answers: Answers,
    *,
    name: str,
    locale: Locale,
    sector: Sector | None,
) -> None:
    for diary_field in definition.fields:
        key = diary_field.key
        values = answers.posted.get(key, [])
        question = render_text(diary_field, locale, sector, name)
        if diary_field.type == "text":
            # Browsers send a line break as CRLF but count it as one character for maxlength.
            text = (values[0] if values else "").replace("\r\n", "\n")
            answers.posted[key] = [text] if text else []
            limit = diary_field.max_length or 0
            if len(text) > limit:
                answers.errors[key] = _(
                    "This is too long: at most %(limit)s characters (you typed %(count)s).",
                    limit=limit,
                    count=len(text),
                )
            elif text.strip():
                answers.values[key] = text
            elif diary_field.required:
                answers.errors[key] = _("Answer the question “%(question)s”.", question=question)
            continue
        if not values:
            if diary_field.required:
                answers.errors[key] = _(
                    "Choose an answer to the question “%(question)s”.", question=question
                )
            continue
        if diary_field.type == "tags":
            options = {option.key for option in diary_field.options}
            tags = tuple(dict.fromkeys(values))
            if any(tag not in options for tag in tags):
                answers.errors[key] = _(
                    "Something that was ticked for “%(question)s” is not one of the choices.",
                    question=question,
                )
            else:
                answers.values[key] = tags
            continue
        value = _scale_value(values, definition.scales[str(diary_field.scale)])
        if value is None:
            answers.errors[key] = _(
                "The answer to “%(question)s” is not one of the choices. Choose one of them.",
                question=question,
            )
        else:
            answers.values[key] = value
            answers.posted[key] = [str(value)]
    if answers.ok:
        try:
            check_diary_entry(definition, answers.values)
        except ValueError:
            # read_answers should already have caught whatever the check finds.
            answers.form_errors.append(_("This entry does not fit the diary. Check the answers."))


# --- scores ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRow:
    """One subscale score of a try-out, formatted for the reader's locale."""

    label: str
    value: str
    low: str
    high: str
    n_answered: int
    n_items: int
    rule: str
    higher_is_better: bool
    prorated: bool


def _number(value: float) -> str:
    return format_decimal(value, format="#,##0.##", locale=i18n.get_locale())


def score_rows(definition: InstrumentDefinition, answers: Answers) -> list[ScoreRow]:
    """Score a try-out's answers with scoring.score_response, one row per subscale."""
    item_answers = {k: v for k, v in answers.values.items() if isinstance(v, int)}
    scores = score_response(definition, item_answers)
    rows = []
    for subscale in definition.subscales:
        score = scores[subscale.key]
        low, high = score_range(definition, subscale.key)
        rows.append(
            ScoreRow(
                label=subscale.label.get(_ui_locale()),
                value="" if score.value is None else _number(score.value),
                low=_number(low),
                high=_number(high),
                n_answered=score.n_answered,
                n_items=score.n_items,
                rule=score.rule,
                higher_is_better=subscale.higher_is_better,
                prorated=score.prorated,
            )
        )
    return rows


# --- the preview page --------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """Everything the preview page shows: the choices, the form and a try-out's outcome."""

    entries: list[InstrumentEntry]
    entry: InstrumentEntry
    locale: Locale
    sector: Sector
    name: str
    form: InstrumentForm
    #: True after a posted try-out without problems.
    tried: bool = False
    scores: list[ScoreRow] = field(default_factory=list)


def _ui_locale() -> Locale:
    return _LOCALES.get(i18n.get_locale(), "nl")


def preview(
    session: Session,
    *,
    actor: Actor,
    instrument: str,
    locale: str,
    sector: str,
    name: str,
    posted: Mapping[str, Sequence[str]] | None = None,
) -> Preview:
    """One instrument as a form in a locale and sector; with `posted`, a checked try-out.

    Unknown locales and sectors fall back to the defaults; an instrument the organisation
    does not have is NotFound. Nothing is stored.
    """
    entries = list_instruments(session, actor=actor)
    usable = [entry for entry in entries if entry.definition is not None]
    if instrument:
        key, version = parse_ref(instrument)
        found = [e for e in usable if (e.key, e.version) == (key, version)]
        if not found:
            raise NotFound()
        entry = found[0]
    else:
        entry = usable[0]
    definition = entry.definition
    assert definition is not None
    chosen_locale = _LOCALES.get(locale, _ui_locale())
    chosen_sector = _SECTORS.get(sector, DEFAULT_SECTOR)
    pseudonym = " ".join(name.split())[:NAME_LIMIT] or DEFAULT_NAME
    answers = None
    tried = False
    scores: list[ScoreRow] = []
    if posted is not None:
        answers = read_answers(
            definition, posted, name=pseudonym, locale=chosen_locale, sector=chosen_sector
        )
        tried = answers.ok
        if tried and definition.kind != "diary":
            try:
                scores = score_rows(definition, answers)
            except ValueError:
                # read_answers already refuses what score_response would; never a 500.
                answers.form_errors.append(_("These answers could not be scored."))
                tried = False
    form = build_form(
        definition, locale=chosen_locale, sector=chosen_sector, name=pseudonym, answers=answers
    )
    return Preview(
        entries=entries,
        entry=entry,
        locale=chosen_locale,
        sector=chosen_sector,
        name=pseudonym,
        form=form,
        tried=tried,
        scores=scores,
    )
