"""Audit trail as a hash chain (append-only, purge by anchor) and two-factor login.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:43:28.234344
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The foreign keys from audit_event to app_user were unnamed; SQLite batch mode finds
# them through this convention, PostgreSQL named them <table>_<column>_fkey.
FK_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
PERSON_COLUMNS = ("actor_id", "subject_user_id")
UNCHANGED_AT_REDACTION = (
    "id",
    "organisation_id",
    "chain_seq",
    "created_at",
    "actor_id",
    "actor_role",
    "subject_user_id",
    "relationship_id",
    "on_behalf_of_user_id",
    "action",
    "detail",
    "ip_address",
    "personal_digest",
    "prev_hash",
    "row_hash",
)
_SAME_SQLITE = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in UNCHANGED_AT_REDACTION)
_NEW_ROW = ", ".join(f"NEW.{c}" for c in UNCHANGED_AT_REDACTION)
_OLD_ROW = ", ".join(f"OLD.{c}" for c in UNCHANGED_AT_REDACTION)

SQLITE_TRIGGERS = (
    # The one change allowed: erasure blanks the pseudonym and reason of a row once.
    f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    WHEN NOT (OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL
        AND NEW.relationship_pseudonym = '' AND NEW.reason = ''
        AND {_SAME_SQLITE})
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: rows cannot be changed'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    WHEN OLD.chain_seq > COALESCE(
        (SELECT anchor_seq FROM audit_chain WHERE organisation_id = OLD.organisation_id), 0)
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: only purged rows can be removed'); END""",
    # A chain head only moves forward, and never goes away.
    """CREATE TRIGGER audit_chain_forward_only BEFORE UPDATE ON audit_chain
    WHEN NEW.organisation_id != OLD.organisation_id OR NEW.last_seq < OLD.last_seq
        OR NEW.anchor_seq < OLD.anchor_seq OR NEW.anchor_seq > NEW.last_seq
    BEGIN SELECT RAISE(ABORT, 'audit_chain only moves forward'); END""",
    """CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
    BEGIN SELECT RAISE(ABORT, 'audit_chain only moves forward'); END""",
)
POSTGRES_TRIGGER = (
    f"""CREATE FUNCTION audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            -- The one change allowed: erasure blanks the pseudonym and reason once.
            IF OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL
                AND NEW.relationship_pseudonym = '' AND NEW.reason = ''
                AND ROW({_NEW_ROW}) IS NOT DISTINCT FROM ROW({_OLD_ROW})
            THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_event is append-only: rows cannot be changed';
        END IF;
        IF OLD.chain_seq > COALESCE(
            (SELECT anchor_seq FROM audit_chain WHERE organisation_id = OLD.organisation_id), 0
        ) THEN
            RAISE EXCEPTION 'audit_event is append-only: only purged rows can be removed';
        END IF;
        RETURN OLD;
    END $$""",
    """CREATE TRIGGER audit_event_guard BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_guard()""",
    """CREATE FUNCTION audit_chain_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.organisation_id <> OLD.organisation_id
            OR NEW.last_seq < OLD.last_seq OR NEW.anchor_seq < OLD.anchor_seq
            OR NEW.anchor_seq > NEW.last_seq THEN
            RAISE EXCEPTION 'audit_chain only moves forward';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_chain_guard BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_guard()""",
)


def _backfill_chain() -> None:
    """Put rows written before this revision into their organisation's chain."""
    from app.models.audit import CHAINED_COLUMNS, chained_fields, personal_fields
    from app.security import audit_digest

    connection = op.get_bind()
    plain = [name for name in ("id", *CHAINED_COLUMNS, "row_hash") if name != "created_at"]
    events = sa.table(
        "audit_event",
        sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
        *(sa.column(name) for name in plain),
    )
    rows = connection.execute(
        sa.select(events).order_by(events.c.organisation_id, events.c.id)
    ).mappings()
    heads: dict[int, tuple[int, str]] = {}
    for row in rows:
        seq, previous = heads.get(row["organisation_id"], (0, ""))
        personal = audit_digest(personal_fields({"relationship_pseudonym": "", "reason": ""}))
        values = {**row, "chain_seq": seq + 1, "prev_hash": previous, "personal_digest": personal}
        digest = audit_digest(chained_fields(values))
        connection.execute(
            events.update()
            .where(events.c.id == row["id"])
            .values(
                chain_seq=seq + 1, prev_hash=previous, personal_digest=personal, row_hash=digest
            )
        )
        heads[row["organisation_id"]] = (seq + 1, digest)
    chain = sa.table(
        "audit_chain",
        sa.column("organisation_id"),
        sa.column("last_seq"),
        sa.column("last_hash"),
        sa.column("anchor_seq"),
        sa.column("anchor_hash"),
    )
    for organisation_id, (seq, digest) in heads.items():
        connection.execute(
            chain.insert().values(
                organisation_id=organisation_id,
                last_seq=seq,
                last_hash=digest,
                anchor_seq=0,
                anchor_hash="",
            )
        )


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("anchor_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("organisation_id"),
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recovery_code_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recovery_code_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("totp_secret", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column("totp_confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            # A plain literal: SQLite adds the column in place (an expression would make
            # batch mode rebuild the table, which the foreign keys to it do not allow),
            # and PostgreSQL reads '0' as false.
            sa.Column("two_factor_required", sa.Boolean(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("two_factor_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )

    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chain_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("relationship_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("relationship_pseudonym", text(length=40), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("on_behalf_of_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reason", text(length=400), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("personal_digest", text(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("redacted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("prev_hash", text(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("row_hash", text(length=64), server_default="", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_audit_event_actor_id"), ["actor_id"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("audit_event", naming_convention=FK_CONVENTION) as batch_op:
            for column in PERSON_COLUMNS:
                batch_op.drop_constraint(f"fk_audit_event_{column}_app_user", type_="foreignkey")
    else:
        for column in PERSON_COLUMNS:
            op.drop_constraint(f"audit_event_{column}_fkey", "audit_event", type_="foreignkey")

    _backfill_chain()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_audit_event_chain", ["organisation_id", "chain_seq"])

    # Last, after every batch operation: SQLite's batch mode rebuilds the table and
    # would lose triggers made before it.
    statements = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGER
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "audit_event_no_update",
            "audit_event_no_delete",
            "audit_chain_forward_only",
            "audit_chain_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_guard ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_guard()")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_guard ON audit_chain")
        op.execute("DROP FUNCTION IF EXISTS audit_chain_guard()")

    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_column("two_factor_at")

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("two_factor_required")

    is_sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for column in PERSON_COLUMNS:
            name = (
                f"fk_audit_event_{column}_app_user" if is_sqlite else f"audit_event_{column}_fkey"
            )
            batch_op.create_foreign_key(name, "app_user", [column], ["id"], ondelete="SET NULL")
        batch_op.drop_constraint("uq_audit_event_chain", type_="unique")
        batch_op.drop_index(batch_op.f("ix_audit_event_actor_id"))
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("redacted_at")
        batch_op.drop_column("personal_digest")
        batch_op.drop_column("reason")
        batch_op.drop_column("on_behalf_of_user_id")
        batch_op.drop_column("relationship_pseudonym")
        batch_op.drop_column("relationship_id")
        batch_op.drop_column("chain_seq")

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret")

    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_user_id"))
        batch_op.drop_index(batch_op.f("ix_recovery_code_organisation_id"))

    op.drop_table("recovery_code")
    op.drop_table("audit_chain")
