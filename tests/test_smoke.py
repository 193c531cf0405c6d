import gc

from tests.conftest import Cast, Client


def test_login_page_renders_in_dutch_by_default(client: Client) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert '<html lang="nl">' in response.text


def test_logged_in_admin_sees_people(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    response = client.get("/admin/users")
    assert response.status_code == 200
    assert "Pim Prof" in response.text
    assert "Olaf Outsider" not in response.text


def test_start_up_objects_are_left_out_of_later_garbage_collections() -> None:
    # Without this, every full collection walks all modules, classes and definitions again
    # (app/main.py, _freeze_start_up_objects).
    from fastapi.testclient import TestClient

    from app.main import app

    with TestClient(app) as started:
        assert started.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 50_000
