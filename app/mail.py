"""Outgoing email: kept in the outbox table and sent through the configured SMTP server."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlmodel import Session

from app import i18n
from app.config import get_settings
from app.models import OutboxMessage, utcnow
from app.templating import environment

log = logging.getLogger(__name__)


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
    recorded; call deliver_message() after the caller has committed.
    """
    record = OutboxMessage(
        organisation_id=organisation_id,
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=dict(headers or {}),
        attachments=list(attachments or []),
    )
    if deliver:
        deliver_message(record)
    session.add(record)
    return record


def deliver_message(record: OutboxMessage) -> None:
    """Send a recorded message by SMTP (when configured) and note the outcome on it."""
    if not get_settings().smtp_host:
        return
    try:
        _deliver(build_message(record))
        record.sent_at = utcnow()
        record.error = ""
    except (OSError, smtplib.SMTPException) as exc:
        # The person still gets a clear screen; the admin sees the failure in the outbox.
        log.warning("Email to %s failed: %s", record.to_address, exc)
        record.error = str(exc)[:500]


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
