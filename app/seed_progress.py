"""Demo progress: two teachers of De Regenboog part-way through the programme.

So that the demo shows more than empty pages: Eva Janssen has done the intake, the
interview, the reflection session and the after-six-weeks measurement about "Milan", kept
a diary and an experiment log, and her coach Marieke Jansen has coded the interview,
released the profile and written feedback. Thomas de Wit did the intake about "Sara" and
stopped early in the interview, sixteen days ago, so the caseload flags him as stalled.

Everything is written through the app's own services (so scores, statuses and the
dashboard's summary rows are what the app would make), then moved back in time: each
step is dated where it would have happened. All texts are made up for the demo.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from app.coaching import coding as coding_service
from app.coaching.service import give_feedback
from app.dashboards import summary
from app.deps import Actor
from app.i18n import using_locale
from app.instruments.loader import builtin_definition
from app.models import (
    ConsentRecord,
    DiaryEntry,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    Notification,
    ReflectionSession,
    Role,
    Trajectory,
    User,
    utcnow,
)
from app.reflection import diary
from app.reflection import service as reflection

# How many days ago the first teacher started; the other days count from there.
EVA_START = 70
THOMAS_START = 24
THOMAS_STOPPED = 16  # days ago; the caseload calls a session stalled after 14

INTERVIEW_NL = {
    "connected": (
        "Vorige week bij het voorlezen kwam Milan naast me zitten en hij las stiekem mee. "
        "Bij de spannende bladzijde keek hij me aan en grijnsde. Ik voelde me even gewoon "
        "zijn juf, niet iemand die hem steeds moet corrigeren."
    ),
    "not_connected": (
        "Bij rekenen gooide hij zijn schrift dicht en zei dat het toch niet lukte. Ik zei dat "
        "hij het opnieuw moest proberen, en hij draaide zich van me af. Daarna zei hij de "
        "hele ochtend niets meer tegen me."
    ),
    "upset": (
        "Op het plein was zijn voetbal afgepakt. Hij kwam binnen met een rood hoofd en schopte "
        "tegen een tafel. Ik ben naast hem gaan staan en heb gewacht tot hij kon praten. Ik "
        "weet niet of dat hielp, maar hij bleef wel bij me staan."
    ),
    "angry": (
        "Toen hij voor de derde keer door de instructie heen praatte, werd ik echt boos. Ik "
        "heb hem harder aangesproken dan ik wilde, waar de hele klas bij was."
    ),
    "helpless": (
        "Als hij dichtklapt, weet ik niet wat ik moet doen. Praten maakt het erger, wachten "
        "voelt alsof ik hem laat vallen."
    ),
    "guilty": (
        "Na die keer dat ik uitviel, zag ik hem 's middags alleen bij het hek staan. Ik had "
        "het gevoel dat ik hem had laten zien dat ook ik hem lastig vind."
    ),
    "seen_by": (
        "Ik denk dat hij zou zeggen: juf Eva is streng, maar soms ook leuk. Ik hoop dat hij "
        "weet dat ik hem niet opgeef."
    ),
    "needs": (
        "Hij heeft iemand nodig die rustig blijft als hij dat niet kan. Toen ik een keer alleen "
        "zijn naam zei en knikte, ging hij zitten en begon hij."
    ),
    "compared": (
        "Bij de andere kinderen kan ik makkelijk een grapje maken. Bij Milan let ik steeds op "
        "wat er mis kan gaan, en dat merkt hij volgens mij."
    ),
    "keep": (
        "Ons moment bij het voorlezen. En dat hij 's ochtends vaak als eerste binnenkomt en "
        "even bij mijn bureau blijft hangen."
    ),
    "hopes": (
        "Dat hij naar me toe komt als het misgaat, in plaats van dicht te klappen. En dat ik "
        "minder op mijn hoede ben."
    ),
}
REFLECTION_NL = {
    "patterns": (
        "Ik zie dat ik vooral schrijf over de momenten waarop het misgaat. De fijne momenten "
        "zijn er ook, maar die vallen me minder op."
    ),
    "their_view": (
        "Misschien denkt Milan dat ik hem alleen zie als hij iets fout doet. Dat hij dan maar "
        "beter meteen kan stoppen."
    ),
    "own_part": (
        "Ik spreek hem vaak aan voordat er echt iets aan de hand is. Ik ben al gespannen "
        "voordat hij binnen is."
    ),
    "experiment": (
        "Elke ochtend begroet ik Milan bij de deur met iets wat niets met school te maken "
        "heeft, en ik zeg één keer per dag wat hem goed lukt."
    ),
}
DIARY = (
    # (days after the start, valence, what happened, feelings, what Milan did)
    (
        3,
        -2,
        "Milan weigerde mee te doen met de kring.",
        {"anger": 3, "helplessness": 2},
        ["refused"],
    ),
    (5, 1, "Hij hielp een klasgenoot met de puzzel.", {"joy": 2, "pride": 1}, ["cooperated"]),
    (10, -1, "Ruzie bij het buitenspelen, hij kwam boos binnen.", {"anxiety": 2}, ["upset"]),
    (16, 2, "Bij de deur vertelde hij over zijn konijn.", {"joy": 3}, ["sought_contact"]),
    (19, 1, "Hij maakte een grapje over mijn koffie.", {"joy": 2}, ["joked"]),
    (24, -1, "Lastige rekenles, maar hij stopte niet.", {"helplessness": 1}, ["cooperated"]),
    (31, 2, "Hij liet trots zijn tekening zien.", {"joy": 3, "pride": 2}, ["showed_pride"]),
    (38, 1, "Rustige dag, hij werkte door.", {"joy": 1}, ["cooperated"]),
    (45, -1, "Hij werd boos op een klasgenoot, ik bleef rustig.", {"anger": 1}, ["outburst"]),
    (52, 2, "Hij vroeg of ik morgen weer voorlees.", {"joy": 3, "pride": 1}, ["sought_contact"]),
)
EXPERIMENTS = (
    (15, 3, "Bij de deur gevraagd naar zijn weekend."),
    (22, 4, "Gezegd dat zijn verhaal goed opgebouwd was."),
    (29, 2, "Vergeten bij de deur; later in de klas wel een compliment."),
    (36, 5, "Hij begon zelf over zijn voetbal, we hebben gelachen."),
)
RATINGS = {
    "sensitivity": 4,
    "perspective_taking": 3,
    "secure_base": 4,
    "positive_affect": 3,
    "anger": 5,
    "helplessness": 5,
    "neutralising": 2,
    "differentiation": 3,
    "interactional_attributions": 3,
    "compassion": 4,
    "emotional_labour": 4,
    "coherence": 3,
}


def add_demo_progress(session: Session, organisation_id: int, users: dict[str, User]) -> None:
    """Eva's trajectory well on its way and Thomas's stalled one (see the module text)."""
    with using_locale("nl"):
        _eva(session, users["leerkracht5"], users["coach1"])
        _thomas(session, users["leerkracht6"])
    session.flush()
    summary.rebuild_totals(session, organisation_id=organisation_id)


def _actor(user: User, role: Role) -> Actor:
    """The person as the services see them, without a login session (there is none)."""
    return Actor.for_user(
        user,
        roles=frozenset({role}),
        session_id=0,
        session_token_hash="",  # nosec B106 - not a password: there is no login session
    )


def _start(
    session: Session, actor: Actor, values: dict[str, str], days_ago: int
) -> tuple[Trajectory, list[ReflectionSession]]:
    relationship = reflection.save_relationship(session, actor=actor, values=values)
    trajectory = reflection.start_trajectory(
        session,
        actor=actor,
        relationship_id=relationship.id,  # type: ignore[arg-type]
    )
    session.flush()
    _move([relationship, trajectory], days_ago)
    sessions = reflection.trajectory_sessions(session, trajectory)
    _move(sessions, days_ago)
    return trajectory, sessions


def _eva(session: Session, eva: User, coach_user: User) -> None:
    actor, coach = _actor(eva, Role.professional), _actor(coach_user, Role.coach)
    values = {"pseudonym": "Milan", "sector": "education", "age_band": "8-11", "setting": "groep 6"}
    trajectory, sessions = _start(session, actor, values, EVA_START)
    intake, interview, reflection_session, _consolidation, post = sessions[:5]

    _answer_session(session, actor, trajectory, intake, better=False)
    _moved_session(session, trajectory, intake, EVA_START)
    _diary(session, trajectory, up_to=7)

    _answer_session(session, actor, trajectory, interview, better=False)
    _moved_session(session, trajectory, interview, EVA_START - 7)
    ratings = {f"rating-{key}": str(value) for key, value in RATINGS.items()}
    coding = coding_service.save_ratings(
        session, actor=coach, reflection_session=interview, trajectory=trajectory, posted=ratings
    )
    evidence = coding_service.add_evidence(
        session,
        actor=coach,
        reflection_session=interview,
        trajectory=trajectory,
        step_key="angry",
        quote="harder aangesproken dan ik wilde",
        note="Boosheid, en meteen spijt: een mooi begin voor de reflectie.",
        dimension="anger",
    )
    coding_service.release_profile(
        session, actor=coach, reflection_session=interview, trajectory=trajectory
    )
    feedback = give_feedback(
        session,
        actor=coach,
        trajectory=trajectory,
        session_id=interview.id,
        text=(
            "Wat een eerlijke antwoorden, Eva. Je beschrijft heel precies wat er gebeurt als "
            "Milan dichtklapt. Kijk bij de reflectie eens naar het moment bij het voorlezen: "
            "wat deed jij daar anders?"
        ),
    )
    # The coach's notifications to Eva (profile released, feedback) are as old, and unread.
    notes = session.exec(select(Notification).where(Notification.user_id == eva.id)).all()
    _move([coding, evidence, feedback, *notes], EVA_START - 9)

    reflection.open_session(session, actor=coach, reflection_session=reflection_session)
    _answer_session(session, actor, trajectory, reflection_session, better=False)
    _moved_session(session, trajectory, reflection_session, EVA_START - 14)
    _diary(session, trajectory, up_to=55)
    for days, rating, text in EXPERIMENTS:
        diary.log_experiment(
            session,
            trajectory=trajectory,
            values={
                "occurred_on": (diary.local_today() - timedelta(days=EVA_START - days)).isoformat(),
                "how_it_went": str(rating),
                "what_i_did": text,
            },
        )

    _answer_session(session, actor, trajectory, post, better=True)
    _moved_session(session, trajectory, post, EVA_START - 56)
    trajectory.last_activity_at = utcnow() - timedelta(days=EVA_START - 56)
    session.add(trajectory)
    session.flush()
    summary.refresh_changes(session, trajectory_ids=[trajectory.id])  # type: ignore[list-item]


def _thomas(session: Session, thomas: User) -> None:
    actor = _actor(thomas, Role.professional)
    values = {"pseudonym": "Sara", "sector": "education", "age_band": "4-7"}
    trajectory, sessions = _start(session, actor, values, THOMAS_START)
    intake, interview = sessions[:2]
    _answer_session(session, actor, trajectory, intake, better=False)
    _moved_session(session, trajectory, intake, THOMAS_START)
    template = reflection.session_template(trajectory, interview)
    for step in template.steps[:2]:
        words = ["lief", "onzeker", "stil"] if step.type == "three_words" else None
        text = (
            "Sara kwam vanochtend met haar jas nog aan naar me toe en wilde niet loslaten."
            if words is None
            else "Lief omdat ze aanhankelijk is, onzeker en stil in de groep."
        )
        reflection.save_draft(
            session,
            actor=actor,
            reflection_session=interview,
            trajectory=trajectory,
            step=step,
            text=text,
            words=words,
            base_version=0,
        )
    session.flush()
    _move(_session_rows(session, interview), THOMAS_STOPPED)
    trajectory.last_activity_at = utcnow() - timedelta(days=THOMAS_STOPPED)
    session.add(trajectory)


def _answer_session(
    session: Session,
    actor: Actor,
    trajectory: Trajectory,
    reflection_session: ReflectionSession,
    *,
    better: bool,
) -> None:
    """Answer every step the way the demo's story goes, then finish the session."""
    template = reflection.session_template(trajectory, reflection_session)
    for step in template.steps:
        if step.type == "instrument":
            definition = builtin_definition(step.instrument or "")
            reflection.save_instrument_answers(
                session,
                reflection_session=reflection_session,
                trajectory=trajectory,
                step=step,
                answers=_answers(definition, better=better),
                complete=True,
            )
            continue
        values: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        if step.type == "consent":
            values = {"consent_programme": "1", "consent_research": "1"}
        elif step.type == "three_words":
            words = ["nieuwsgierig", "grappig", "dichterbij"] if better else None
            lists["words"] = words or ["onrustig", "slim", "afstandelijk"]
            values["text"] = (
                "Hij is nieuwsgierig en grappig, en we zijn dichter bij elkaar gekomen."
                if better
                else "Hij is onrustig in de klas, slim als hij wil, en vaak ver weg van mij."
            )
        else:
            values["text"] = INTERVIEW_NL.get(step.key) or REFLECTION_NL.get(
                step.key, "Daar heb ik nog niet veel over nagedacht."
            )
        reflection.submit_step(
            session,
            actor=actor,
            reflection_session=reflection_session,
            trajectory=trajectory,
            step=step,
            values=values,
            lists=lists,
        )
    session.flush()
    missing = reflection.complete_session(
        session, reflection_session=reflection_session, trajectory=trajectory
    )
    assert not missing, missing


def _answers(definition: Any, *, better: bool) -> dict[str, int]:
    """Answers that put each subscale half a point to the hard side of the middle (or,
    later, half a point to the good side)."""
    low, high = definition.scale.min, definition.scale.max
    middle = (low + high) // 2
    good = {s.key: 1 if s.higher_is_better else -1 for s in definition.subscales}
    answers = {}
    for index, item in enumerate(definition.items):
        step = index % 2 if better else -(1 - index % 2)  # 0, 1, 0, 1 … or -1, 0, -1, 0 …
        value = middle + good[item.subscale] * step
        if item.keying == "negative":
            value = low + high - value
        answers[item.key] = max(low, min(high, value))
    return answers


def _diary(session: Session, trajectory: Trajectory, *, up_to: int) -> None:
    relationship = session.get(FocusRelationship, trajectory.focus_relationship_id)
    assert relationship is not None
    done = set(
        session.exec(
            select(col(DiaryEntry.occurred_on)).where(DiaryEntry.trajectory_id == trajectory.id)
        ).all()
    )
    for days, valence, what, feelings, behaviour in DIARY:
        day = diary.local_today() - timedelta(days=EVA_START - days)
        if days > up_to or day in done:
            continue
        fields = {
            "valence": [str(valence)],
            "what_happened": [what],
            "genuine": ["3"],
            "hidden": ["1" if valence < 0 else "0"],
            "child_behaviour": behaviour,
            **{key: [str(value)] for key, value in feelings.items()},
        }
        # As the form posts them: "item-<key>".
        posted = {f"item-{key}": value for key, value in fields.items()}
        entry = diary.save_diary_entry(
            session,
            trajectory=trajectory,
            relationship=relationship,
            occurred_on=day.isoformat(),
            posted=posted,
        )
        entry.created_at = datetime.combine(day, datetime.min.time(), tzinfo=utcnow().tzinfo)
        entry.created_at += timedelta(hours=16)
        session.add(entry)


def _session_rows(session: Session, reflection_session: ReflectionSession) -> list[SQLModel]:
    by_session = reflection_session.id
    rows: list[SQLModel] = [reflection_session]
    rows.extend(
        session.exec(
            select(InstrumentResponse).where(col(InstrumentResponse.session_id) == by_session)
        ).all()
    )
    rows.extend(
        session.exec(
            select(NarrativeAnswer).where(col(NarrativeAnswer.session_id) == by_session)
        ).all()
    )
    return rows


def _moved_session(
    session: Session, trajectory: Trajectory, reflection_session: ReflectionSession, days: int
) -> None:
    """Date a finished session (and what it stored) `days` ago, and the consent with it."""
    session.flush()
    rows = _session_rows(session, reflection_session)
    if reflection_session.position == 0:  # the intake: its consent, on the trajectory too
        rows.append(trajectory)
        rows.extend(
            session.exec(
                select(ConsentRecord).where(ConsentRecord.trajectory_id == trajectory.id)
            ).all()
        )
    _move(rows, days)
    # The next session's suggested date follows from this one's new date.
    sessions = reflection.trajectory_sessions(session, trajectory)
    for item in sessions:
        if item.completed_at is None:
            item.suggested_date = None
    programme = reflection.programme_of(trajectory)
    reflection.refresh_statuses(programme, sessions, today=diary.local_today())
    session.flush()


def _move(rows: Iterable[SQLModel], days_ago: int) -> None:
    """Move every moment a row holds from today to `days_ago` days ago."""
    delta = timedelta(days=days_ago)
    now, today = utcnow(), diary.local_today()
    for row in rows:
        for column in row.__table__.columns:  # type: ignore[attr-defined]
            value = getattr(row, column.name)
            # Only what was written just now: a moment moved before stays where it is.
            recent = isinstance(value, datetime) and now - value < timedelta(hours=1)
            if recent or (
                type(value) is date
                and column.name == "suggested_date"
                and value >= today - timedelta(days=1)
            ):
                setattr(row, column.name, value - delta)
