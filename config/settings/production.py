"""Production: refuses to start without SECRET_KEY or with a per-process cache under the login
throttle; HTTPS-only by default (``manage.py check --deploy`` is clean but for HSTS preload).

Every secure default below can be relaxed from the environment for a plain-HTTP setup (the compose
stack on localhost, the load benchmark): docs/operations.md, "Production settings".
"""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import CACHES, REST_FRAMEWORK, env

if not SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment for production.")
DEBUG = False

# HTTPS: redirect plain HTTP, tell browsers to stay on HTTPS (HSTS), cookies only over HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is a promise to browser vendors that is slow to undo: the operator opts in.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The login throttle counts attempts in the default cache. A per-process cache (locmem, the
# default without CACHE_URL) gives each gunicorn worker its own budget, so N workers allow N times
# the rate: refuse to start unless the operator says this is a single process.
_PROCESS_LOCAL_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")
if (
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get("auth")
    and CACHES["default"]["BACKEND"] in _PROCESS_LOCAL_CACHES
    and not env.bool("AUTH_THROTTLE_SINGLE_PROCESS", default=False)
):
    raise ImproperlyConfigured(
        "The login throttle needs a cache shared by every web process: set CACHE_URL (e.g. redis://host:6379/1). "
        "Only for a single web process, set AUTH_THROTTLE_SINGLE_PROCESS=true instead."
    )
