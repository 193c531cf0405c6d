"""Outgoing email: kept in the outbox table and sent through the configured SMTP server."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

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
) -> OutboxMessage:
    """Record the message and deliver it by SMTP when a server is configured."""
    settings = get_settings()
    record = OutboxMessage(
        organisation_id=organisation_id,
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
    )
    if settings.smtp_host:
        try:
            _deliver(to=to, subject=subject, text=text, html=html)
            record.sent_at = utcnow()
        except (OSError, smtplib.SMTPException) as exc:
            # The person still gets a clear screen; the admin sees the failure in the outbox.
            log.warning("Email to %s failed: %s", to, exc)
            record.error = str(exc)[:500]
    session.add(record)
    return record


def _deliver(*, to: str, subject: str, text: str, html: str) -> None:
    settings = get_settings()
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="dyade")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
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
