"""Test settings: PostgreSQL when DATABASE_URL says so (CI), SQLite otherwise."""
from .base import *  # noqa: F401,F403

SECRET_KEY = "test-only"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Browser and permission tests log in far more often than a person would.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}  # noqa: F405

# A second alias on the same PostgreSQL database, standing in for a replica in the export tests
# (tests/ops/test_exports_replica.py switches EXPORT_READ_DATABASE to it); nothing reads it otherwise.
if "replica" not in DATABASES and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405

# Tests read their own writes: a progress read sweeps first (production: within DASHBOARD_READ_REFRESH_S).
DASHBOARD_READ_REFRESH_S = 0.0
