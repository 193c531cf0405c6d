"""The audit trail (after NEN 7513): every read, change and export of a person's data.

Each event says when (UTC), who (actor, role, organisation), whose data (user, relationship
pseudonym), what, on whose behalf, why (a stated reason) and from where (client address).

Events are written when the request's transaction commits: `record` queues them on the
session and the `before_commit` hook appends them to their organisation's hash chain. The
chain's head row is updated first, which on PostgreSQL takes its row lock: concurrent
writers queue behind each other for the last moment of their transaction only, and every
row gets the next number and the previous row's hash. The database refuses UPDATE and
DELETE (triggers, migration 0007) except for rows a purge has anchored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, event, func, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.deps import Actor, client_address
from app.models import AuditChain, AuditEvent, FocusRelationship, Trajectory, utcnow
from app.models.audit import REDACTABLE_COLUMNS, chained_fields, personal_fields
from app.security import audit_digest

_PENDING = "dyade_audit_pending"
_CHAIN = AuditChain.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    request: Request | None = None,
    subject_user_id: int | None = None,
    trajectory: Trajectory | None = None,
    relationship: FocusRelationship | None = None,
    on_behalf_of_user_id: int | None = None,
    reason: str = "",
    detail: str = "",
    role: str = "",
    organisation_id: int | None = None,
) -> AuditEvent:
    """Queue one audit event; it is written, chained, when the session commits.

    A trajectory fills in whose data it is (its professional) and the relationship's
    pseudonym; `actor=None` is the system itself (a command), which needs an organisation.
    """
    if trajectory is not None:
        subject_user_id = subject_user_id or trajectory.professional_id
        if relationship is None:
            relationship = session.get(FocusRelationship, trajectory.focus_relationship_id)
    if relationship is not None:
        subject_user_id = subject_user_id or relationship.professional_id
    org = (
        organisation_id if organisation_id is not None else actor.organisation_id if actor else None
    )
    if org is None:
        raise ValueError("An audit event without an actor needs an organisation.")
    entry = AuditEvent(
        organisation_id=org,
        created_at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_role=role or (actor.main_role if actor else "system"),
        subject_user_id=subject_user_id,
        relationship_id=relationship.id if relationship else None,
        relationship_pseudonym=relationship.pseudonym if relationship else "",
        on_behalf_of_user_id=on_behalf_of_user_id,
        action=action[:60],
        reason=reason.strip()[:400],
        detail=detail[:500],
        ip_address=client_address(request) if request is not None else "",
    )
    if not session.in_transaction():
        # So that a rollback, which only speaks up inside a transaction, drops the queue.
        session.begin()
    session.info.setdefault(_PENDING, []).append(entry)
    return entry


@event.listens_for(OrmSession, "before_commit")
def _append_pending(session: OrmSession) -> None:
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if pending:
        append(session, pending)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_pending(session: OrmSession, previous: Any) -> None:
    # Only the outermost rollback: a savepoint's leaves the transaction's events queued.
    if previous.parent is None:
        session.info.pop(_PENDING, None)


def _claim_statement(dialect: str) -> Any:
    """Take `count` numbers of an organisation's chain, making its head on first use.

    One statement, which returns the head's new last number and its last hash: an upsert
    that adds to last_seq, so it takes the row lock (PostgreSQL) or the write lock (SQLite)
    before anything is read, and no two writers can read the same last hash.
    """
    found = _CLAIMS.get(dialect)
    if found is None:
        if dialect == "postgresql":
            statement: Any = postgres_insert(_CHAIN)
        elif dialect == "sqlite":
            statement = sqlite_insert(_CHAIN)
        else:  # pragma: no cover - Dyade runs on SQLite and PostgreSQL
            raise NotImplementedError(dialect)
        statement = statement.values(
            organisation_id=bindparam("chain_organisation"),
            last_seq=bindparam("chain_count"),
            last_hash="",
            anchor_seq=0,
            anchor_hash="",
        )
        found = statement.on_conflict_do_update(
            index_elements=[_CHAIN.c.organisation_id],
            set_={"last_seq": _CHAIN.c.last_seq + statement.excluded.last_seq},
        ).returning(_CHAIN.c.last_seq, _CHAIN.c.last_hash)
        _CLAIMS[dialect] = found
    return found


# Built once per dialect: making a statement costs about as much as running it, and every
# audited request (each coach's view of a trajectory) runs these.
_CLAIMS: dict[str, Any] = {}
_SET_LAST_HASH = (
    update(_CHAIN)
    .where(_CHAIN.c.organisation_id == bindparam("chain_organisation"))
    .values(last_hash=bindparam("chain_hash"))
)
_WRITTEN_COLUMNS = tuple(c.name for c in _EVENTS.columns if c.name != "id")
_INSERT_EVENTS = _EVENTS.insert()


def append(session: OrmSession, entries: list[AuditEvent]) -> None:
    """Append events to their organisations' chains, in organisation order (no deadlocks).

    The rows are written with Core statements, not the unit of work: they are never read
    back in the request, and an ORM flush of one row costs more than the statements.
    """
    by_org: dict[int, list[AuditEvent]] = {}
    for entry in entries:
        by_org.setdefault(entry.organisation_id, []).append(entry)
    claim = _claim_statement(session.get_bind().dialect.name)
    for organisation_id in sorted(by_org):
        chunk = by_org[organisation_id]
        # Always the same statements (a fixed query count per request).
        last_seq, previous = session.execute(
            claim, {"chain_organisation": organisation_id, "chain_count": len(chunk)}
        ).one()
        seq = last_seq - len(chunk)
        rows = []
        for entry in chunk:
            seq += 1
            entry.chain_seq = seq
            entry.prev_hash = previous
            entry.personal_digest = audit_digest(personal_fields(entry.__dict__))
            entry.row_hash = audit_digest(entry.chained_fields())
            previous = entry.row_hash
            rows.append({name: getattr(entry, name) for name in _WRITTEN_COLUMNS})
        # (On PostgreSQL, one data-modifying WITH for both took twice as long as the two.)
        session.execute(_INSERT_EVENTS, rows)
        session.execute(
            _SET_LAST_HASH, {"chain_organisation": organisation_id, "chain_hash": previous}
        )


def redact_about(session: Session, *, user_id: int) -> None:
    """Blank the pseudonym and typed reason of every event about a person (at erasure).

    The only change the database's triggers allow on an audit row; the chain covers these
    two fields through `personal_digest`, so it still verifies.
    """
    session.execute(
        update(_EVENTS)
        .where(
            _EVENTS.c.subject_user_id == user_id,
            _EVENTS.c.redacted_at.is_(None),
        )
        .values({**dict.fromkeys(REDACTABLE_COLUMNS, ""), "redacted_at": utcnow()})
    )


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainProblem:
    organisation_id: int
    event_id: int | None
    chain_seq: int
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    chains: int
    rows: int
    problems: list[ChainProblem]
    # (organisation, last number, last hash): note these outside the database, and a
    # later rewrite of the whole chain by someone with database access shows.
    heads: list[tuple[int, int, str]]

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(session: Session, organisation_id: int, batch: int = 5000) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        chunk = (
            session.execute(
                _EVENTS.select()
                .where(_EVENTS.c.organisation_id == organisation_id, _EVENTS.c.chain_seq > after)
                .order_by(_EVENTS.c.chain_seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not chunk:
            return
        for row in chunk:
            yield dict(row)
        after = chunk[-1]["chain_seq"]


def verify(session: Session, *, organisation_id: int | None = None) -> VerifyResult:
    """Walk every chain from its anchor; report each chain's first broken row."""
    heads = session.exec(select(AuditChain).order_by(col(AuditChain.organisation_id))).all()
    known = {head.organisation_id for head in heads}
    problems: list[ChainProblem] = []
    rows = 0
    # Rows of an organisation without a head row were written around the chain.
    orphans = session.execute(
        select(AuditEvent.organisation_id, func.min(AuditEvent.id), func.min(AuditEvent.chain_seq))
        .where(col(AuditEvent.organisation_id).not_in(known or {-1}))
        .group_by(col(AuditEvent.organisation_id))
    ).all()
    for org, first_id, first_seq in orphans:
        if organisation_id is None or org == organisation_id:
            problems.append(ChainProblem(org, first_id, first_seq, "no chain head"))
    for head in heads:
        if organisation_id is not None and head.organisation_id != organisation_id:
            continue
        expected_seq, previous = head.anchor_seq + 1, head.anchor_hash
        problem: ChainProblem | None = None
        for row in _rows(session, head.organisation_id):
            rows += 1
            found = None
            if row["chain_seq"] != expected_seq:
                found = f"expected number {expected_seq}, found {row['chain_seq']} (rows missing)"
            elif row["prev_hash"] != previous:
                found = "does not link to the row before it"
            elif audit_digest(chained_fields(_with_utc(row))) != row["row_hash"]:
                found = "content does not match its hash (the row was changed)"
            elif (
                row["redacted_at"] is None
                and audit_digest(personal_fields(row)) != row["personal_digest"]
            ):
                found = "pseudonym or reason does not match its hash (the row was changed)"
            if found:
                problem = ChainProblem(head.organisation_id, row["id"], row["chain_seq"], found)
                break
            expected_seq, previous = expected_seq + 1, row["row_hash"]
        if problem is None and (expected_seq - 1, previous) != (head.last_seq, head.last_hash):
            problem = ChainProblem(
                head.organisation_id,
                None,
                expected_seq,
                f"the chain ends at number {expected_seq - 1} but its head says "
                f"{head.last_seq} (rows missing at the end)",
            )
        if problem is not None:
            problems.append(problem)
    return VerifyResult(
        chains=len(heads),
        rows=rows,
        problems=problems,
        heads=[(h.organisation_id, h.last_seq, h.last_hash) for h in heads],
    )


def _with_utc(row: dict[str, Any]) -> dict[str, Any]:
    moment = row["created_at"]
    if isinstance(moment, str):  # SQLite through a plain table select
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {**row, "created_at": moment}


# ---------------------------------------------------------------- retention


def retention_cutoff(now: datetime, years: int) -> datetime:
    """The moment `years` years before now (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return (now - timedelta(days=1)).replace(year=now.year - years)


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    removed: dict[int, int]


def purge(session: Session, *, years: int, now: datetime | None = None) -> PurgeResult:
    """Remove events older than the retention period, keeping each chain verifiable.

    Only a prefix of a chain is removed (rows numbered up to the first one still kept):
    the head's anchor then holds the last removed row's number and hash, which the
    database trigger checks before it lets a row go and the verifier starts from.
    """
    cutoff = retention_cutoff(now or utcnow(), years)
    removed: dict[int, int] = {}
    heads = session.exec(select(AuditChain).order_by(col(AuditChain.organisation_id))).all()
    for head in heads:
        org = head.organisation_id
        first_kept = session.exec(
            select(func.min(AuditEvent.chain_seq)).where(
                AuditEvent.organisation_id == org, AuditEvent.created_at >= cutoff
            )
        ).one()
        upto = (first_kept - 1) if first_kept is not None else head.last_seq
        if upto <= head.anchor_seq:
            continue
        last_removed = session.exec(
            select(AuditEvent).where(
                AuditEvent.organisation_id == org, AuditEvent.chain_seq == upto
            )
        ).one()
        session.execute(
            update(_CHAIN)
            .where(_CHAIN.c.organisation_id == org, _CHAIN.c.anchor_seq == head.anchor_seq)
            .values(anchor_seq=upto, anchor_hash=last_removed.row_hash, anchor_at=utcnow())
        )
        result = session.execute(
            _EVENTS.delete().where(_EVENTS.c.organisation_id == org, _EVENTS.c.chain_seq <= upto)
        )
        removed[org] = int(getattr(result, "rowcount", 0) or 0)
        record(
            session,
            actor=None,
            organisation_id=org,
            action="audit.purge",
            detail=f"removed={removed[org]}; through={upto}; before={cutoff.isoformat()}",
        )
    return PurgeResult(cutoff=cutoff, removed=removed)
