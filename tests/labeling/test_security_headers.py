"""Every HTML page carries the Content-Security-Policy; Swagger UI is served from our own static files."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.parametrize("path", ["/admin/", "/admin/labeling/campaign/", "/admin/labeling/campaign/add/", "/api/docs/",
                                  "/no-such-page/x.js"])
def test_every_html_page_has_the_csp(superuser_client, path):
    response = superuser_client.get(path)
    assert response["Content-Type"].startswith("text/html"), (path, response.status_code)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_admin_login_page_has_the_csp(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200 and "script-src 'self'" in response["Content-Security-Policy"]


def test_json_answers_need_no_csp(superuser_client):
    assert "Content-Security-Policy" not in superuser_client.get("/api/v1/auth/csrf")


def test_swagger_ui_comes_from_our_static_files(superuser_client):
    html = superuser_client.get("/api/docs/").content.decode()
    assert not re.search(r"cdn|jsdelivr|unpkg|https?://", html), "no third-party host"
    assert "<script>" not in html, "no inline script: the CSP would block it"
    sources = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    static = [s for s in sources if s.startswith("/static/")]
    assert any(s.endswith("swagger-ui-bundle.js") for s in static), sources
    for src in static:  # each file is shipped by an installed app (drf-spectacular-sidecar), not fetched
        assert finders.find(src.removeprefix("/static/")), src
    init = [s for s in sources if not s.startswith("/static/")]
    assert init, sources
    response = superuser_client.get(init[0])  # the split view's init script, same origin
    assert response.status_code == 200 and b"SwaggerUIBundle" in response.content
