"""Django serves the built SPA's index.html for the app's routes (labeling/spa_urls.py), and only those."""
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(settings, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text('<!doctype html><div id="root"></div><script type="module" src="/static/assets/app.js"></script>')
    settings.FRONTEND_DIST = dist
    return dist


@pytest.mark.parametrize("path", ["/", "/login", "/label", "/label/a/12", "/admin-ui/campaigns/3/progress", "/research/jobs/3"])
def test_app_routes_get_index_with_csrf_cookie_and_csp(built, path):
    response = Client().get(path)
    assert response.status_code == 200
    assert b'<div id="root">' in response.content
    assert response["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "csrftoken" in response.cookies


@pytest.mark.parametrize("path", ["/admin/", "/api/v1/me", "/labelx", "/static/nothing.js"])
def test_other_paths_are_not_the_spa(built, path):
    response = Client().get(path)
    assert b'<div id="root">' not in response.content


def test_missing_build_says_how_to_build(settings, tmp_path):
    settings.FRONTEND_DIST = tmp_path / "nowhere"
    response = Client().get("/label/a/1")
    assert response.status_code == 503
    assert b"make frontend" in response.content
