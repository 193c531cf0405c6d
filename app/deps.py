"""Request dependencies: who is asking (deny by default), CSRF, and role guards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Path, Request
from sqlalchemy import bindparam, event, func, update
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from app import i18n
from app.config import get_settings
from app.db import SessionDep, runs_inline
from app.errors import CsrfFailed, Forbidden, LoginRequired, TwoFactorEnrolmentRequired
from app.middleware import set_cookie_header
from app.models import Notification, Organisation, Role, User, UserRole, UserSession, utcnow
from app.security import (
    ANON_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_matches,
    csrf_token_for,
    new_token,
    token_digest,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A session's last-seen time is written at most this often, not on every request.
TOUCH_INTERVAL = timedelta(seconds=60)

F = TypeVar("F", bound=Callable[..., Any])


def public(endpoint: F) -> F:
    """Mark a route as reachable without logging in; every other route requires a login."""
    endpoint.__dyade_public__ = True  # type: ignore[attr-defined]
    return endpoint


def no_csrf_when_anonymous(endpoint: F) -> F:
    """Skip the CSRF check for visitors who are not logged in (only for harmless routes)."""
    endpoint.__dyade_no_csrf_anonymous__ = True  # type: ignore[attr-defined]
    return endpoint


def signed_link(endpoint: F) -> F:
    """Skip the CSRF check: the route is authorised by a signed token in its own path.

    For one-click unsubscribe (RFC 8058), where a mail program posts without any cookie or
    form token; a forged request would need the signature, which only we can make.
    """
    endpoint.__dyade_signed_link__ = True  # type: ignore[attr-defined]
    return endpoint


# Object ids in paths: anything outside the database's integer range is simply not found.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


# The roles an organisation can oblige to log in with a second factor.
TWO_FACTOR_ROLES = (Role.admin, Role.coach, Role.supervisor)


def enrolment_allowed(endpoint: F) -> F:
    """Mark a route as open to someone who must still set up two-factor login."""
    endpoint.__dyade_enrolment__ = True  # type: ignore[attr-defined]
    return endpoint


@dataclass(frozen=True)
class Actor:
    """The logged-in person making this request.

    What every request needs of the person comes with the login check; the whole User row
    (`user`) is read only when a route asks for it.
    """

    id: int
    organisation_id: int
    display_name: str
    email: str
    locale: str
    two_factor_enabled: bool
    roles: frozenset[str]
    session_id: int
    session_token_hash: str
    # This login passed the second factor (an authenticator code or a recovery code).
    two_factor: bool = False
    # The organisation requires a second factor of admins, coaches and supervisors.
    organisation_requires_two_factor: bool = False
    # In-app messages waiting when the request began (None: not counted).
    unread_notifications: int | None = None
    load_user: Callable[[], User | None] = field(default=lambda: None, repr=False, compare=False)

    @classmethod
    def for_user(cls, user: User, **fields: Any) -> Actor:
        """An actor for a User already loaded (commands and tests)."""
        assert user.id is not None
        return cls(
            id=user.id,
            organisation_id=user.organisation_id,
            display_name=user.display_name,
            email=user.email,
            locale=user.locale,
            two_factor_enabled=user.two_factor_enabled,
            load_user=lambda: user,
            **fields,
        )

    @cached_property
    def user(self) -> User:
        """The person's User row, read from the request's database session on first use."""
        user = self.load_user()
        assert user is not None, "the login check found this user"
        return user

    def has(self, *roles: Role | str) -> bool:
        return any(str(role) in self.roles for role in roles)

    @property
    def two_factor_required(self) -> bool:
        """This person's roles and organisation require a second factor."""
        return self.organisation_requires_two_factor and self.has(*TWO_FACTOR_ROLES)

    @property
    def must_enrol(self) -> bool:
        """Required to use a second factor but not yet enrolled: only enrolment is open."""
        return self.two_factor_required and not self.two_factor_enabled

    @property
    def main_role(self) -> str:
        """The role shown in the audit trail when an action does not say which."""
        for role in (Role.admin, Role.coach, Role.supervisor, Role.professional):
            if role in self.roles:
                return str(role)
        return ""


# Every request runs this: the session, what the request needs of the user, their roles and
# their unread messages (for the page header) in one query (one row per role; a user
# without roles still gets one row through the outer join). Plain columns on the session's
# connection, not ORM objects: building those cost more than the query. Built once: making
# the statement and its cache key anew cost about as much as running it.
_UNREAD = (
    select(func.count())
    .select_from(Notification)
    .where(col(Notification.user_id) == col(User.id), col(Notification.read_at).is_(None))
    .scalar_subquery()
)
_ACTOR_QUERY = (
    select(  # type: ignore[call-overload, misc]
        UserSession.id,
        UserSession.revoked_at,
        UserSession.expires_at,
        UserSession.last_seen_at,
        UserSession.two_factor_at,
        User.id,
        User.organisation_id,
        User.display_name,
        User.email,
        User.locale,
        User.is_active,
        User.totp_confirmed_at,
        Organisation.two_factor_required,
        UserRole.role,
        _UNREAD,
    )
    .join(User, col(User.id) == col(UserSession.user_id))
    .join(Organisation, col(Organisation.id) == col(User.organisation_id))
    .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
    .where(col(UserSession.token_hash) == bindparam("digest"))
)


def load_actor(session: SessionDep, token: str | None) -> Actor | None:
    """The actor for a session token, or None when it is unknown, revoked or expired."""
    if not token or len(token) > 200:
        return None
    digest = token_digest(token)
    rows = session.connection().execute(_ACTOR_QUERY, {"digest": digest}).all()
    if not rows:
        return None
    (
        session_id,
        revoked_at,
        expires_at,
        last_seen_at,
        two_factor_at,
        user_id,
        organisation_id,
        display_name,
        email,
        locale,
        is_active,
        totp_confirmed_at,
        org_requires,
        _role,
        unread,
    ) = rows[0]
    now = utcnow()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if revoked_at is not None or expires_at <= now or last_seen_at + idle <= now or not is_active:
        return None
    if now - last_seen_at > TOUCH_INTERVAL:
        # Written with the request's commit, not now: on SQLite a write takes the database's
        # write lock, and it would be held for the rest of the request.
        touch = update(UserSession).where(col(UserSession.id) == session_id)
        event.listen(
            session,
            "before_commit",
            lambda committing: committing.execute(touch.values(last_seen_at=now)),
            once=True,
        )
    return Actor(
        id=user_id,
        organisation_id=organisation_id,
        display_name=display_name,
        email=email,
        locale=locale,
        two_factor_enabled=totp_confirmed_at is not None,
        roles=frozenset(row[13] for row in rows if row[13] is not None),
        session_id=session_id,
        session_token_hash=digest,
        two_factor=two_factor_at is not None,
        organisation_requires_two_factor=bool(org_requires),
        unread_notifications=int(unread),
        load_user=lambda: session.get(User, user_id),
    )


async def authenticate(request: Request, session: SessionDep) -> Actor | None:
    """Resolve the login session, and check the CSRF token of a state change.

    The app-wide dependency: routes not marked public require a login.
    """
    # Async so that the locale set below lives in the request's own context (a sync
    # dependency runs in a worker thread whose context changes are thrown away).
    endpoint = request.scope.get("endpoint")
    token = request.cookies.get(SESSION_COOKIE)
    if runs_inline(endpoint):
        actor = load_actor(session, token)
    else:
        actor = await run_in_threadpool(load_actor, session, token)
    state = request.scope.setdefault("state", {})
    state["actor"] = actor
    # For the page header's unread-messages count (app/templating.py), counted only when
    # a whole page is drawn.
    state["db"] = session
    if actor is not None:
        i18n.set_locale(actor.locale)
        state["csrf_token"] = csrf_token_for("s:" + actor.session_token_hash)
        if (
            actor.must_enrol
            and not getattr(endpoint, "__dyade_enrolment__", False)
            and not getattr(endpoint, "__dyade_public__", False)
        ):
            raise TwoFactorEnrolmentRequired()
    else:
        anon = request.cookies.get(ANON_COOKIE)
        if not anon or len(anon) > 100:
            anon = new_token()
            state.setdefault("set_cookies", []).append(set_cookie_header(ANON_COOKIE, anon))
        state["anon_token"] = anon
        state["csrf_token"] = csrf_token_for("a:" + anon)
        if not getattr(endpoint, "__dyade_public__", False):
            raise LoginRequired()
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, actor)
    return actor


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    if not origin or origin == "null":
        # Browsers send Origin on cross-site POSTs; its absence means a same-site or
        # non-browser client, and the token check below still applies.
        return origin != "null"
    own = {get_settings().base_url, f"{request.url.scheme}://{request.url.netloc}"}
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in own


async def _check_csrf(request: Request, actor: Actor | None) -> None:
    """Reject state-changing requests without this session's CSRF token, or from another site."""
    if getattr(request.scope.get("endpoint"), "__dyade_signed_link__", False):
        return
    if actor is None and getattr(
        request.scope.get("endpoint"), "__dyade_no_csrf_anonymous__", False
    ):
        return  # e.g. logging out when the login has already expired: nothing to protect
    # A form rendered before logging in (another tab) carries the anonymous token; both
    # tokens are bound to HttpOnly cookies that another site can neither read nor set.
    bindings = []
    if actor is not None:
        bindings.append("s:" + actor.session_token_hash)
    anon = request.cookies.get(ANON_COOKIE) or request.scope.get("state", {}).get("anon_token")
    if anon:
        bindings.append("a:" + str(anon))
    # The header comes from htmx; the field from plain forms. After a re-login in the
    # "session expired" dialog the page's header still carries the old token, so either counts.
    presented = [request.headers.get(CSRF_HEADER)]
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented.append(value if isinstance(value, str) else None)
    valid = any(csrf_matches(binding, p) for binding in bindings for p in presented)
    if not _same_origin(request) or not valid:
        raise CsrfFailed()


OptionalActor = Annotated[Actor | None, Depends(authenticate)]


async def current_actor(request: Request) -> Actor:
    """The logged-in actor (authenticate already refused anonymous requests)."""
    # Read from the request, not through Depends(authenticate): FastAPI solves a cached
    # dependency's own dependencies again on every use, and authenticate, the app-wide
    # dependency, always runs first (app dependencies come before the route's). Should it
    # ever not have run, there is no actor here, and the request is refused.
    # Async although it waits for nothing: a sync dependency costs a trip to the thread pool.
    actor = request.scope.get("state", {}).get("actor")
    if actor is None:
        raise LoginRequired()
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that lets through only actors holding one of the roles."""

    # Async: it does no I/O, and a sync dependency costs a trip to the thread pool.
    async def guard(actor: CurrentActor) -> Actor:
        if not actor.has(*roles):
            raise Forbidden(i18n.gettext("Your account does not have access to this page."))
        return actor

    return guard


def require_two_factor_admin(actor: CurrentActor) -> Actor:
    """An admin whose login passed the second factor (for reading the audit trail)."""
    if not actor.has(Role.admin):
        raise Forbidden(i18n.gettext("Your account does not have access to this page."))
    if not actor.two_factor:
        raise Forbidden(
            i18n.gettext(
                "The audit trail can only be read after logging in with two-factor "
                "login. Set it up on your account page, then log out and in again."
            )
        )
    return actor


AdminActor = Annotated[Actor, Depends(require_roles(Role.admin))]
TwoFactorAdminActor = Annotated[Actor, Depends(require_two_factor_admin)]
CoachActor = Annotated[Actor, Depends(require_roles(Role.coach))]
SupervisorActor = Annotated[Actor, Depends(require_roles(Role.supervisor))]
ProfessionalActor = Annotated[Actor, Depends(require_roles(Role.professional))]


def client_address(request: Request) -> str:
    """The client's address (the proxy's forwarded one only when proxies are trusted)."""
    if get_settings().trusted_proxies:
        forwarded = request.headers.get("x-forwarded-for", "")
        # Our proxy appends the address it saw; anything before it came from the client,
        # who could put a fresh address there on every try to escape the login throttle.
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return (request.client.host if request.client else "")[:64]
