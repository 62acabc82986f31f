"""The single-page app: ``frontend/dist/index.html`` for the app's routes; its assets are static files.

Vite builds with ``base: '/static/'``, so the hashed JS/CSS live under ``/static/assets/`` and are served
by WhiteNoise (``frontend/dist`` is in STATICFILES_DIRS once built). Every client-side route of the SPA
must be listed here so a reload or a shared link lands on the app: ``/``, ``/login``, ``/label/...``,
``/admin-ui/...``, ``/research/...``. ``/admin/`` (Django admin) and ``/api/`` are not ours.
"""
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.urls import re_path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

NOT_BUILT = (
    "Prefloop's web app is not built yet.\n\n"
    "Build it with `make frontend` (that is: cd frontend && npm ci && npm run build), then reload.\n"
    "The REST API is up meanwhile: /api/v1/ (docs at /api/docs/)."
)


def _index_path() -> Path:
    return Path(getattr(settings, "FRONTEND_DIST", Path(settings.BASE_DIR) / "frontend" / "dist")) / "index.html"


@never_cache  # index.html names the current hashed assets: never serve a stale one after a deploy
@ensure_csrf_cookie  # the SPA reads csrftoken from the cookie for its X-CSRFToken header
def spa_index(request, *args, **kwargs):
    try:
        html = _index_path().read_bytes()
    except FileNotFoundError:
        return HttpResponse(NOT_BUILT, status=503, content_type="text/plain; charset=utf-8")
    # Its Content-Security-Policy comes from labeling.middleware, like every HTML page's.
    return HttpResponse(html, content_type="text/html; charset=utf-8")


urlpatterns = [
    re_path(r"^$", spa_index, name="spa"),
    re_path(r"^(?:login|label|admin-ui|research)(?:/.*)?$", spa_index, name="spa-route"),
]
