"""Pydantic models for one programme definition file, plus prompt rendering.

The models check *shape* only (types, required fields, allowed values). Rules that span
several parts of a file (unique keys, an instrument step's instrument must exist, ...)
live in `loader.py`, so that one bad file reports all of its problems at once.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from app.instruments.loader import fill_name
from app.instruments.schema import Locale, Sector, SectorText, Translation

Phase = Literal["baseline", "interview", "reflection", "consolidation", "post", "follow_up"]
Opens = Literal["auto", "coach"]
StepType = Literal["consent", "instrument", "narrative", "three_words", "reflection", "experiment"]

PHASES: Final[tuple[Phase, ...]] = (
    "baseline",
    "interview",
    "reflection",
    "consolidation",
    "post",
    "follow_up",
)
STEP_TYPES: Final[tuple[StepType, ...]] = (
    "consent",
    "instrument",
    "narrative",
    "three_words",
    "reflection",
    "experiment",
)
#: Steps whose answer is free text, and so have a max_length.
TEXT_STEP_TYPES: Final[frozenset[StepType]] = frozenset(
    {"narrative", "three_words", "reflection", "experiment"}
)
#: Steps that count as interview prompts (the narrative the coach codes).
PROMPT_STEP_TYPES: Final[frozenset[StepType]] = frozenset({"narrative", "three_words"})
DEFAULT_MAX_LENGTH: Final = 20_000
#: An experiment is one small, concrete intention, not an essay.
DEFAULT_EXPERIMENT_MAX_LENGTH: Final = 1_000
MAX_LENGTH_LIMIT: Final = 50_000


class _Model(BaseModel):
    # Frozen because load_builtin_programmes() shares one cached instance with every caller.
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepTemplate(_Model):
    """One step of a session: consent, a questionnaire, or a text to write."""

    key: StrictStr
    type: StepType
    title: Translation
    prompt: SectorText
    probes: tuple[SectorText, ...] = ()
    #: Key of a built-in instrument (type "instrument" only).
    instrument: StrictStr | None = None
    required: StrictBool = True
    max_length: StrictInt | None = None

    @property
    def text_limit(self) -> int | None:
        """Return the longest answer text this step accepts, or None if it takes no text."""
        if self.type not in TEXT_STEP_TYPES:
            return None
        if self.max_length is not None:
            return self.max_length
        return DEFAULT_EXPERIMENT_MAX_LENGTH if self.type == "experiment" else DEFAULT_MAX_LENGTH


class SessionTemplate(_Model):
    """One session of a programme, with its steps in order."""

    key: StrictStr
    title: Translation
    description: Translation
    phase: Phase
    #: "auto": opens once every earlier non-optional session is completed;
    #: "coach": a coach opens it.
    opens: Opens = "auto"
    optional: StrictBool = False
    #: Counted from the previous non-optional session, which an optional one never is.
    suggested_days_after_previous: StrictInt = 0
    steps: tuple[StepTemplate, ...] = ()

    def step(self, key: str) -> StepTemplate:
        """Return a step by key, or raise KeyError."""
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(f'session "{self.key}" has no step "{key}"')

    @property
    def prompt_steps(self) -> tuple[StepTemplate, ...]:
        """Return the narrative and three-words steps in order."""
        return tuple(step for step in self.steps if step.type in PROMPT_STEP_TYPES)


class ReminderDefaults(_Model):
    """When reminders fall due, by default; an organisation can change each value."""

    #: An open or started session nobody touched for this many days.
    session_idle_days: StrictInt = 3
    #: A scheduled session: this many hours before it starts ("the day before").
    upcoming_hours_before: StrictInt = 24
    #: The diary unused for this many days between sessions.
    diary_idle_days: StrictInt = 7
    #: New coach feedback still unread after this many hours (0: at once).
    feedback_delay_hours: StrictInt = 0
    #: A post or follow-up measurement this many days after its date.
    measurement_due_days_after: StrictInt = 0
    #: How long a scheduled session lasts, for the calendar invite.
    session_minutes: StrictInt = 60


#: Allowed range of each reminder value (also for an organisation's own settings).
REMINDER_LIMITS: Final[dict[str, tuple[int, int]]] = {
    "session_idle_days": (1, 60),
    "upcoming_hours_before": (1, 168),
    "diary_idle_days": (1, 60),
    "feedback_delay_hours": (0, 168),
    "measurement_due_days_after": (0, 60),
    "session_minutes": (15, 240),
}


class ProgrammeDefinition(_Model):
    """One programme in one version, as read from `<key>-v<version>.toml`."""

    key: StrictStr
    version: StrictInt
    title: Translation
    description: Translation
    licence: StrictStr
    sessions: tuple[SessionTemplate, ...] = ()
    reminders: ReminderDefaults = ReminderDefaults()

    @property
    def file_name(self) -> str:
        """Return the file name this definition must be stored under."""
        return f"{self.key}-v{self.version}.toml"

    def session(self, key: str) -> SessionTemplate:
        """Return a session by key, or raise KeyError."""
        for session in self.sessions:
            if session.key == key:
                return session
        raise KeyError(f'programme {self.key} v{self.version} has no session "{key}"')

    def step(self, session_key: str, step_key: str) -> StepTemplate:
        """Return one step of one session, or raise KeyError."""
        return self.session(session_key).step(step_key)

    def prerequisites(self, session_key: str) -> tuple[str, ...]:
        """Return the earlier non-optional sessions an "auto" session waits for."""
        keys: list[str] = []
        for session in self.sessions:
            if session.key == session_key:
                return tuple(keys)
            if not session.optional:
                keys.append(session.key)
        raise KeyError(f'programme {self.key} v{self.version} has no session "{session_key}"')

    def suggested_offsets(self) -> dict[str, int]:
        """Return each session's suggested day, counted from the first session (day 0)."""
        offsets: dict[str, int] = {}
        anchor = 0  # the day of the latest non-optional session
        for index, session in enumerate(self.sessions):
            day = anchor + session.suggested_days_after_previous if index else 0
            offsets[session.key] = day
            if not session.optional:
                anchor = day
        return offsets

    def instrument_keys(self) -> tuple[str, ...]:
        """Return the instruments the programme uses, each once, in order of first use."""
        keys = (step.instrument for s in self.sessions for step in s.steps if step.instrument)
        return tuple(dict.fromkeys(keys))


def render_prompt(step: StepTemplate, locale: Locale, sector: Sector | None, name: str) -> str:
    """Return a step's prompt for a locale and sector, with the name filled in."""
    return fill_name(step.prompt.get_for(locale, sector), name)


def render_probes(
    step: StepTemplate, locale: Locale, sector: Sector | None, name: str
) -> list[str]:
    """Return a step's follow-up hints for a locale and sector, with the name filled in."""
    return [fill_name(probe.get_for(locale, sector), name) for probe in step.probes]
