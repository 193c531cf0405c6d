"""CSRF, security headers, tenant isolation and hostile input: what an attacker would try."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlmodel import Session, select

from app import i18n
from app.coaching import service as coaching_service
from app.config import get_settings
from app.dashboards.summary import recount_accounts
from app.models import OutboxMessage, Role
from tests.conftest import PASSWORD, Cast, Client, make_user

HTMX = {"HX-Request": "true"}
VALID = "the right token"  # stands for the session's real CSRF token in parameters


def say(message: str, locale: str = "nl", **variables: object) -> str:
    """A message as the app shows it in this language."""
    with i18n.using_locale(locale):
        return i18n.gettext(message, **variables)


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def still_logged_in(client: Client) -> bool:
    return client.get("/home", follow_redirects=False).status_code == 200


# CSRF

REFUSED = {
    "no token": ({}, {}),
    "a wrong token": ({"csrf_token": "0" * 64}, {}),
    "an empty token": ({"csrf_token": ""}, {}),
    # wapiti found these: hmac.compare_digest refuses non-ASCII text with a TypeError (a 500).
    "a token with non-ASCII characters": ({"csrf_token": "0" * 64 + "¿'\"("}, {}),
    "a non-ASCII token in the header": ({}, {"X-CSRF-Token": "é".encode("latin-1") * 64}),
    "another site's Origin": ({"csrf_token": VALID}, {"Origin": "https://evil.example"}),
    "a null Origin": ({"csrf_token": VALID}, {"Origin": "null"}),
    "a cross-site fetch": ({"csrf_token": VALID}, {"Sec-Fetch-Site": "cross-site"}),
}


@pytest.mark.parametrize(("data", "headers"), REFUSED.values(), ids=REFUSED.keys())
def test_a_post_without_this_sessions_token_from_this_site_is_refused(
    make_client: type[Client],
    cast: Cast,
    data: dict[str, str],
    headers: dict[str, str],
) -> None:
    victim = make_client().login_as(cast.coach)
    other_device = make_client().login_as(cast.coach)
    payload = {k: victim.csrf() if v == VALID else v for k, v in data.items()}

    response = victim.post(
        "/account/sessions/end-others", data=payload, headers=headers, follow_redirects=False
    )

    assert response.status_code == 403
    assert "<html" in response.text
    assert say("This form has expired") in text(response)
    assert still_logged_in(other_device)


def test_another_sessions_token_is_refused(make_client: type[Client], cast: Cast) -> None:
    victim = make_client().login_as(cast.coach)
    other_device = make_client().login_as(cast.coach)
    attacker = make_client().login_as(cast.other_coach)

    for token in (attacker.csrf(), other_device.csrf()):
        response = victim.post(
            "/account/sessions/end-others",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 403
    assert still_logged_in(other_device)


def test_the_right_token_is_accepted_in_the_form_or_the_htmx_header(
    make_client: type[Client], cast: Cast
) -> None:
    here = make_client().login_as(cast.coach)
    first, second = make_client().login_as(cast.coach), make_client().login_as(cast.coach)

    by_header = here.post(
        "/language",
        data={"locale": "nl"},
        headers={**HTMX, "X-CSRF-Token": here.csrf(), "Origin": "https://testserver"},
    )
    assert by_header.status_code == 204
    assert still_logged_in(first)

    by_form = here.post(
        "/account/sessions/end-others",
        data={"csrf_token": here.csrf()},
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert by_form.status_code == 303
    assert not still_logged_in(first)
    assert not still_logged_in(second)

    make_client().login_as(cast.coach)
    by_htmx_header = here.post(
        "/account/sessions/end-others", headers={**HTMX, "X-CSRF-Token": here.csrf()}
    )
    assert by_htmx_header.status_code == 204
    assert by_htmx_header.headers["HX-Redirect"] == "/account"


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/login", {"email": "coach@anker.example", "password": PASSWORD}),
        ("/password/forgot", {"email": "coach@anker.example"}),
    ],
)
def test_anonymous_forms_need_the_visitors_token_too(
    client: Client, make_client: type[Client], cast: Cast, url: str, data: dict[str, str]
) -> None:
    someone_else = make_client()
    someone_else.get("/login")

    assert client.post(url, data=data, follow_redirects=False).status_code == 403
    stolen = {**data, "csrf_token": someone_else.csrf()}
    assert client.post(url, data=stolen, follow_redirects=False).status_code == 403
    assert client.post_form(url, data).status_code in (200, 303)


def test_reset_links_point_at_the_configured_site_whatever_host_is_asked(
    client: Client, cast: Cast, db: Session
) -> None:
    client.post_form(
        "/password/forgot", {"email": cast.coach.email}, headers={"Host": "evil.example"}
    )

    [message] = db.exec(select(OutboxMessage)).all()
    assert f"{get_settings().base_url}/password/reset/" in message.body_text
    assert "evil.example" not in message.body_text + message.body_html


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_the_language_switch_never_sends_you_to_another_site(client: Client, target: str) -> None:
    response = client.post_form("/language", {"locale": "en", "next": target})

    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_names_are_escaped_wherever_they_are_shown(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.admin)
    name = '<img src=x onerror="alert(1)">'
    response = client.post_form(
        "/admin/users",
        {
            "display_name": name,
            "email": "xss@anker.example",
            "roles": "professional",
            "locale": "nl",
        },
    )
    assert response.status_code == 303
    [message] = db.exec(select(OutboxMessage)).all()

    pages = [
        client.get("/admin/users"),
        client.get(response.headers["location"]),
        client.get(f"/admin/outbox/{message.id}"),
    ]
    link = re.search(r"/invitation/[A-Za-z0-9_-]+", message.body_text)
    assert link
    pages.append(make_client().get(link.group(0)))

    for page in pages:
        assert page.status_code == 200, page.url
        assert "<img src=x" not in page.text, page.url
        assert "&lt;img src=x" in page.text, page.url
    assert "<img src=x" not in message.body_html


# Security headers


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = [part.split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def assert_security_headers(response: httpx.Response) -> None:
    csp = csp_directives(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'self'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin", "no-referrer")


def test_pages_send_security_headers(client: Client) -> None:
    page = client.get("/login")

    assert page.status_code == 200
    assert_security_headers(page)


def test_error_pages_send_security_headers(client: Client) -> None:
    page = client.get("/bestaat-niet")

    assert page.status_code == 404
    assert_security_headers(page)


def test_the_server_error_page_sends_security_headers(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(coaching_service, "caseload", broken)
    client.login_as(cast.coach)

    page = client.get("/coach")

    assert page.status_code == 500
    assert "the database went away" not in page.text
    assert_security_headers(page)
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("url", "status", "title"),
    [
        ("/admin/users", 403, "No access"),
        ("/bestaat-niet", 404, "Page not found"),
        ("/coach", 500, "Something went wrong on our side"),
    ],
)
def test_htmx_gets_the_error_as_a_fragment_for_the_message_area(
    client: Client,
    cast: Cast,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    status: int,
    title: str,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(coaching_service, "caseload", broken)
    client.login_as(cast.coach)

    response = client.get(url, headers=HTMX)
    full = client.get(url)

    assert response.status_code == full.status_code == status
    assert response.headers["HX-Retarget"] == "#flash"
    assert "<html" not in response.text and "<html" in full.text
    assert say(title) in text(response) and say(title) in text(full)
    assert 'role="alert"' in response.text
    assert "the database went away" not in response.text


def test_logged_in_pages_are_not_cached(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)

    for url in ("/home", "/account", "/admin/users", f"/admin/users/{cast.coach.id}"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url


@pytest.mark.parametrize("url", ["/docs", "/redoc", "/openapi.json"])
def test_the_api_docs_are_not_published(client: Client, cast: Cast, url: str) -> None:
    assert client.get(url).status_code == 404
    assert client.login_as(cast.admin).get(url).status_code == 404


def test_the_api_docs_exist_only_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    monkeypatch.setattr(get_settings(), "environment", "development")
    with TestClient(create_app()) as local:
        assert local.get("/docs").status_code == 200
        assert local.get("/openapi.json").status_code == 200
    monkeypatch.setattr(get_settings(), "environment", "production")
    with TestClient(create_app(), base_url="https://testserver") as production:
        assert production.get("/docs").status_code == 404
        assert production.get("/openapi.json").status_code == 404


def test_no_page_needs_inline_script_or_style(
    client: Client, make_client: type[Client], cast: Cast
) -> None:
    pages = [client.get(url) for url in ("/login", "/password/forgot", "/bestaat-niet")]
    admin = make_client().login_as(cast.admin)
    pages += [
        admin.get(url)
        for url in (
            "/home",
            "/account",
            "/admin/users",
            "/admin/users/new",
            f"/admin/users/{cast.professional.id}",
            f"/admin/users/{cast.coach.id}",
            "/admin/outbox",
        )
    ]
    pages.append(make_client().login_as(cast.coach).get("/coach"))
    pages.append(make_client().login_as(cast.supervisor).get("/dashboard"))

    for page in pages:
        url = page.url.path
        assert page.status_code in (200, 404), url
        tags = re.findall(r"<script\b[^>]*>", page.text, flags=re.IGNORECASE)
        assert tags, url  # htmx and app.js are loaded on every page
        assert all(re.search(r"\bsrc=", tag) for tag in tags), (url, tags)
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", page.text, flags=re.IGNORECASE), url
        assert not re.search(r"<[^>]*\sstyle\s*=", page.text, flags=re.IGNORECASE), url


# Tenant isolation


def test_an_admin_of_another_organisation_cannot_see_our_people(client: Client, cast: Cast) -> None:
    client.login_as(cast.outsider_admin)

    detail = client.get(f"/admin/users/{cast.professional.id}")
    listing = client.get("/admin/users", params={"q": "anker"})

    assert detail.status_code == 404
    assert "Pim Prof" not in detail.text
    assert listing.status_code == 200
    assert "anker.example" not in listing.text


def test_a_coach_sees_only_the_professionals_assigned_to_them(
    make_client: type[Client], cast: Cast
) -> None:
    caseload = make_client().login_as(cast.coach).get("/coach")
    colleague = make_client().login_as(cast.other_coach).get("/coach")

    assert "Pim Prof" in caseload.text
    for stranger in ("Pia Prof", "Max Multi", "Olaf Outsider"):
        assert stranger not in caseload.text
    assert "Pim Prof" not in colleague.text
    assert say("Nobody matches. Your administrator pairs coaches with professionals.") in text(
        colleague
    )


def dashboard_numbers(client: Client) -> list[int]:
    page = client.get("/dashboard")
    assert page.status_code == 200
    return [int(n) for n in re.findall(r"<(?:td|dd)[^>]*>\s*(\d+)\s*</(?:td|dd)>", page.text)]


def test_the_dashboard_never_shows_a_group_smaller_than_five(
    client: Client, cast: Cast, db: Session
) -> None:
    # Many people elsewhere must not push our small groups over the threshold.
    for n in range(6):
        make_user(db, cast.other_org, f"p{n}@elders.example", f"P {n}", [Role.professional], "")
    db.commit()
    client.login_as(cast.supervisor)

    assert dashboard_numbers(client) == []  # three professionals
    assert say("fewer than %(n)s", n=5) in text(client.get("/dashboard"))

    # Made past the admin service, so the accounts are counted here as it would.
    make_user(db, cast.org, "p4@anker.example", "Pien Vier", [Role.professional], "")
    recount_accounts(db, organisation_id=cast.org.id)  # type: ignore[arg-type]
    db.commit()
    assert dashboard_numbers(client) == []  # four

    make_user(db, cast.org, "p5@anker.example", "Pieter Vijf", [Role.professional], "")
    recount_accounts(db, organisation_id=cast.org.id)  # type: ignore[arg-type]
    db.commit()
    assert dashboard_numbers(client) == [5]


# Hostile or broken input


@pytest.mark.parametrize("url", ["/login", "/password/forgot"])
def test_an_absurdly_long_email_address_gets_a_clear_message(client: Client, url: str) -> None:
    email = "a" * 9986 + "@anker.example"
    assert len(email) == 10_000

    response = client.post_form(url, {"email": email, "password": "x"})

    assert response.status_code == 422
    too_long = say(
        "This is too long: at most %(limit)s characters (you typed %(count)s).",
        limit=254,
        count=10_000,
    )
    assert too_long in text(response)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/admin/users/abc"),
        ("GET", "/admin/users/1.5"),
        ("POST", "/admin/users/abc/roles"),
        ("POST", "/account/sessions/abc/end"),
        ("GET", "/admin/outbox/-"),
    ],
)
def test_a_malformed_id_is_a_not_found_page(
    client: Client, cast: Cast, method: str, url: str
) -> None:
    client.login_as(cast.admin)

    response = client.get(url) if method == "GET" else client.post_form(url, {"roles": "admin"})

    assert response.status_code == 404
    assert say("Page not found") in text(response)


@pytest.mark.parametrize(
    "user_id",
    [
        "99999999999999999999",
        "2147483648",
    ],
)
def test_a_huge_id_is_a_not_found_page(client: Client, cast: Cast, user_id: str) -> None:
    client.login_as(cast.admin)

    assert client.get(f"/admin/users/{user_id}").status_code == 404
    assert client.get(f"/admin/outbox/{user_id}").status_code == 404
    assert client.post_form(f"/admin/assignments/{user_id}/delete").status_code == 404
    assert client.post_form(f"/account/sessions/{user_id}/end").status_code == 404


@pytest.mark.parametrize("huge", ["99999999999999999999", "2147483648", "٣"])
def test_a_huge_or_odd_id_in_a_form_gets_a_clear_answer(
    make_client: type[Client], cast: Cast, db: Session, huge: str
) -> None:
    admin = make_client().login_as(cast.admin)
    response = admin.post_form(f"/admin/users/{cast.professional.id}/coaches", {"coach_id": huge})
    assert response.status_code == 422
    assert say("Choose a coach.") in text(response)

    professional = make_client().login_as(cast.professional)
    relationship = professional.post_form(
        "/relationships", {"pseudonym": "Kiki", "sector": "education", "age_band": "8-11"}
    )
    assert relationship.status_code == 303
    [relationship_id] = re.findall(
        r"/relationships/(\d+)/edit", professional.get("/relationships").text
    )
    started = professional.post_form(
        f"/relationships/{relationship_id}/trajectories", {"contrast_id": huge}
    )
    assert started.status_code == 303
    trajectory_id = started.headers["location"].rsplit("/", 1)[1]

    coach = make_client().login_as(cast.coach)
    feedback = coach.post_form(
        f"/coach/trajectories/{trajectory_id}/feedback",
        {"feedback": "Goed gedaan", "target": f"session-{huge}"},
    )
    assert feedback.status_code == 303


def test_an_unknown_page_is_a_dutch_not_found_page(client: Client) -> None:
    response = client.get("/bestaat/niet")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in response.text
    assert "Pagina niet gevonden" in response.text


@pytest.mark.parametrize("logged_in", [False, True], ids=["visitor", "logged in"])
@pytest.mark.parametrize("url", ["/bestaat/niet", "/language"])  # not found; wrong method
def test_the_language_switch_works_on_error_pages(
    client: Client, cast: Cast, logged_in: bool, url: str
) -> None:
    # wapiti found the form on these pages without a CSRF token (routing answers them
    # before the login check that makes the token), so switching the language failed.
    if logged_in:
        client.login_as(cast.coach)
    page = client.get(url)
    assert page.status_code in (404, 405)
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert token and token.group(1)

    switched = client.post(
        "/language",
        data={"csrf_token": token.group(1), "locale": "en", "next": "/login"},
        follow_redirects=False,
    )

    assert switched.status_code == 303
    assert client.cookies.get("dyade_locale") == "en"


MALFORMED_COOKIES = [
    'consent={"necessary":true,"analytics":false}',
    'broken="unterminated',
    "a b=c; ;;; =x",
    "\x7f\x01=1",
    "dyade_flash=" + "x" * 4000 + ".forged",
    "dyade_session=" + "y" * 500,
]


@pytest.mark.parametrize("cookie", MALFORMED_COOKIES)
def test_a_malformed_cookie_does_not_break_the_page(
    client: Client, cast: Cast, cookie: str
) -> None:
    assert client.get("/login", headers={"Cookie": cookie}).status_code == 200

    client.login_as(cast.coach)
    header = f"{cookie}; dyade_session={client.session_token}"
    response = client.get("/home", headers={"Cookie": header}, follow_redirects=False)

    assert response.status_code == 200
    assert "Carla Coach" in response.text


def test_a_cookie_from_another_app_does_not_reset_the_chosen_language(client: Client) -> None:
    header = 'consent={"necessary":true,"analytics":false}; dyade_locale=en'

    response = client.get("/login", headers={"Cookie": header})

    assert response.status_code == 200
    assert '<html lang="en">' in response.text


def test_the_upload_form_checks_its_csrf_token(client: Client, cast: Cast) -> None:
    # wapiti reported this multipart form as "token not checked": its own submission sends
    # every field as a file part, so the right token was refused as well. A browser's is not.
    client.login_as(cast.admin)
    upload = {"definition": ("pix.gif", b"GIF89a", "image/gif")}

    wrong = client.post("/admin/instruments", data={"csrf_token": "wapiti"}, files=upload)
    right = client.post("/admin/instruments", data={"csrf_token": client.csrf()}, files=upload)

    assert wrong.status_code == 403
    assert right.status_code == 422  # the form's own answer: this is no instrument file


def test_the_language_switch_checks_its_token_when_logged_in(client: Client, cast: Cast) -> None:
    # wapiti's csrf module reports "token not properly checked" on POST /language; it is.
    client.login_as(cast.professional)
    for token in ("wrong", "", client.csrf()[:-1]):
        refused = client.post(
            "/language", data={"locale": "en", "csrf_token": token}, follow_redirects=False
        )
        assert refused.status_code == 403, token
    accepted = client.post_form("/language", {"locale": "en"})
    assert accepted.status_code == 303
