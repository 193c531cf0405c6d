"""Outgoing email: kept in the outbox table and sent through the configured SMTP server."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from anyio import to_thread
from sqlalchemy import event, inspect, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app import i18n
from app.config import get_settings
from app.models import OutboxMessage, utcnow
from app.templating import environment

log = logging.getLogger(__name__)

# In a request, mail is sent after the response: the person does not wait for the mail
# server, and a page such as "forgot password" takes as long whether or not the address
# has an account. The messages are queued on the session and handed to the request once
# its transaction commits, so a request that fails sends nothing.
_UNSENT = "dyade_unsent_mail"

# Whoever writes a message delivers it (after the response, after the caller's commit, or
# at once); the retry job (`retry_unsent`) delivers what they did not: the process stopped
# before it could, or the mail server refused or could not be reached.
#: How long the writer has to deliver a message before the retry job may.
DELIVERY_LEASE = timedelta(minutes=5)
#: The wait after each failed attempt; after the last one the message is given up (its
#: error stays in the outbox).
RETRY_AFTER = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
#: Older messages are not tried again: the links in them (a password reset) have expired.
RETRY_WITHIN = timedelta(days=1)
_after_response: ContextVar[list[int] | None] = ContextVar("dyade_mail_after", default=None)


@asynccontextmanager
async def delivered_after_response() -> AsyncIterator[None]:
    """Around one request: deliver the mail it committed once the response has gone."""
    queue: list[int] = []
    token = _after_response.set(queue)
    try:
        yield
    finally:
        _after_response.reset(token)
        # Also after an error: what was committed is in the outbox and should go out.
        if queue:
            await to_thread.run_sync(deliver_outbox, queue)


def deliver_outbox(ids: list[int]) -> None:
    """Send recorded messages by SMTP, each noted as sent (or failed) in its own commit."""
    from app.db import get_engine

    with Session(get_engine()) as session:
        for message_id in ids:
            record = session.get(OutboxMessage, message_id)
            if record is None or record.sent_at is not None:
                continue
            deliver_message(record)
            session.commit()


@event.listens_for(OrmSession, "after_commit")
def _hand_over_unsent(session: OrmSession) -> None:
    unsent: list[OutboxMessage] = session.info.pop(_UNSENT, [])
    queue = _after_response.get()
    if queue is not None:
        # The identity, not `record.id`: a session that expires on commit would reload it.
        # (None: the message was in a savepoint that rolled back.)
        identities = (inspect(record).identity for record in unsent)
        queue.extend(identity[0] for identity in identities if identity is not None)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_unsent(session: OrmSession, previous: Any) -> None:
    if previous.parent is None:  # not a savepoint's rollback
        session.info.pop(_UNSENT, None)


def render_email(template: str, locale: str, **context: object) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an email template, in the recipient's language."""
    with i18n.using_locale(locale):
        tmpl = environment.get_template(f"emails/{template}.html")
        values = {"base_url": get_settings().base_url, "locale": i18n.get_locale(), **context}
        module = tmpl.make_module(values)
        subject = str(getattr(module, "subject", "")).strip()
        text = environment.get_template(f"emails/{template}.txt").render(values)
        html = str(module)
    return subject, text, html


def send_mail(
    session: Session,
    *,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    organisation_id: int | None,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    deliver: bool = True,
) -> OutboxMessage:
    """Record the message and deliver it by SMTP when a server is configured.

    Attachments are text: {"filename", "content_type", "content"}, e.g. a calendar
    invite as "text/calendar; method=REQUEST". With deliver=False the message is only
    recorded; call deliver_message() after the caller has committed. In a request (see
    `delivered_after_response`) it is sent after the response, if the request commits.
    """
    smtp = bool(get_settings().smtp_host)
    record = OutboxMessage(
        organisation_id=organisation_id,
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=dict(headers or {}),
        attachments=list(attachments or []),
        next_attempt_at=utcnow() + DELIVERY_LEASE if smtp else None,
    )
    session.add(record)
    if deliver and smtp:
        if _after_response.get() is not None:
            session.info.setdefault(_UNSENT, []).append(record)
        else:
            deliver_message(record)
    return record


def deliver_message(record: OutboxMessage) -> None:
    """Send a recorded message by SMTP (when configured) and note the outcome on it.

    A failure is noted with when the retry job may try again (none after the last try).
    """
    if not get_settings().smtp_host:
        return
    record.attempts += 1
    try:
        _deliver(build_message(record))
    except Exception as exc:
        # The person still gets a clear screen; the admin sees the failure in the outbox.
        if isinstance(exc, OSError | smtplib.SMTPException):
            log.warning(
                "Email to %s failed (attempt %s): %s", record.to_address, record.attempts, exc
            )
        else:
            # A message that cannot even be built: noted like any failure, so that it holds
            # up neither the caller nor the messages after it.
            log.exception("Email %s could not be sent", record.id)
        record.error = str(exc)[:500] or type(exc).__name__
        record.next_attempt_at = (
            utcnow() + RETRY_AFTER[record.attempts - 1] if record.attempts < MAX_ATTEMPTS else None
        )
    else:
        record.sent_at = utcnow()
        record.error = ""
        record.next_attempt_at = None


def retry_unsent(*, engine: Engine | None = None, now: datetime | None = None) -> tuple[int, int]:
    """Deliver the messages whose turn for a retry has come: (sent, failed again).

    Safe to run in several processes at once: each message is claimed with one UPDATE
    (moving its next attempt a lease ahead) before it is sent, so only one of them sends it.
    """
    if not get_settings().smtp_host:
        return 0, 0
    from app.db import get_engine

    engine = engine or get_engine()
    now = now or utcnow()
    sent = failed = 0
    with Session(engine, expire_on_commit=False) as session:
        due = session.exec(
            select(OutboxMessage.id)
            .where(
                col(OutboxMessage.sent_at).is_(None),
                col(OutboxMessage.next_attempt_at) <= now,
                col(OutboxMessage.created_at) > now - RETRY_WITHIN,
            )
            .order_by(col(OutboxMessage.next_attempt_at))
        ).all()
        session.rollback()
        for message_id in due:
            claimed = session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == message_id,
                    col(OutboxMessage.sent_at).is_(None),
                    col(OutboxMessage.next_attempt_at) <= now,
                )
                .values(next_attempt_at=now + DELIVERY_LEASE)
            )
            session.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another process took it
            record = session.get(OutboxMessage, message_id)
            if record is None:
                continue
            deliver_message(record)
            session.commit()
            if record.sent_at is not None:
                sent += 1
            else:
                failed += 1
    return sent, failed


def build_message(record: OutboxMessage) -> EmailMessage:
    """The email as it goes out: plain text, HTML alternative, headers, attachments."""
    message = EmailMessage()
    message["From"] = get_settings().mail_from
    message["To"] = record.to_address
    message["Subject"] = record.subject
    message["Message-ID"] = make_msgid(domain="dyade")
    for name, value in (record.headers or {}).items():
        message[name] = value
    message.set_content(record.body_text)
    if record.body_html:
        message.add_alternative(record.body_html, subtype="html")
    for attachment in record.attachments or []:
        maintype, _slash, rest = str(attachment["content_type"]).partition("/")
        subtype, *raw_params = (part.strip() for part in rest.split(";"))
        params = dict(p.split("=", 1) for p in raw_params if "=" in p and "charset" not in p)
        assert maintype == "text", "only text attachments are supported"
        message.add_attachment(
            str(attachment["content"]),
            subtype=subtype,
            filename=str(attachment["filename"]),
            params=params,
        )
    return message


def _deliver(message: EmailMessage) -> None:
    settings = get_settings()
    timeout = settings.smtp_timeout_seconds
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        context = ssl.create_default_context()
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)
