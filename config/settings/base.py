"""Settings shared by every environment; all of it comes from the environment (12-factor).

The embedded default (no env vars at all) is SQLite + Celery over kombu's
filesystem transport in ``var/``, so ``make demo`` needs no server.
"""
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("PREFLOOP_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
)

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served as our own static files (no CDN)
    "labeling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "labeling.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'prefloop.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if _SQLITE:
    # Django's SQLite backend with writers queued on a file lock instead of SQLite's sleeping busy
    # handler (config/sqlite_backend/base.py): the embedded default's tail latency under concurrency.
    DATABASES["default"]["ENGINE"] = "config.sqlite_backend"
    # The embedded default keeps its database in var/: make sure a fresh clone has the folder.
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so two labelers
    # asking for work at once queue up instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20,
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
# Persistent connections on both backends: a new SQLite connection per request (opening the file,
# the PRAGMAs above, an empty page cache) cost the embedded default several ms of CPU per request
# (bench/embedded_vs_postgres.sh).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if not _SQLITE:
    # A persistent connection is checked (one ``SELECT 1`` round trip) before its first use in each
    # request, so a database restart costs no failed request. Off saves that round trip on every
    # request (within the noise of bench/run_labeling_load.sh here); then the first request on each
    # dead connection fails once (a 500; submit is idempotent, so a client retry loses nothing).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    # Server-side prepared statements for the queue's hot statements (labeling.rawsql; Django's ORM
    # cursors bind on the client and are never prepared): psycopg prepares a statement on a
    # connection once it has run this many times there. Set DB_PREPARE_THRESHOLD=off behind a
    # transaction-pooling PgBouncer older than 1.21 (or without max_prepared_statements), which
    # cannot route a prepared statement back to the server connection that has it.
    _prepare = env.str("DB_PREPARE_THRESHOLD", default="5").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        None if _prepare in ("", "off", "none") else int(_prepare)
    )

# Exports (snapshots) read from a replica when one is configured (labeling.db_routing, docs/scale.md
# "Exports"); everything else, and the snapshot's own row, uses the primary.
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    DATABASES["replica"] = env.db_url_config(_replica_url)
    if DATABASES["replica"]["ENGINE"] != "django.db.backends.sqlite3":
        DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
        DATABASES["replica"].setdefault("OPTIONS", {})["prepare_threshold"] = (
            DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold"))
EXPORT_READ_DATABASE = "replica" if _replica_url else "default"
DATABASE_ROUTERS = ["labeling.db_routing.ExportReadRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The built SPA (frontend/dist) is served by WhiteNoise like any static file.
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [p for p in [FRONTEND_DIST] if p.exists()]
# Vite names assets by content hash, so browsers may cache them forever.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.*assets/.+-[A-Za-z0-9_-]{8}\.(js|css)$"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Every JSON body is checked once (depth, finite numbers, valid Unicode): labeling.api.parsers.
    "DEFAULT_PARSER_CLASSES": [
        "labeling.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "labeling.api.negotiation.JsonFirstContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "labeling.api.errors.exception_handler",
    # Login and token endpoints: attempts per client IP (counted in CACHES, so use Redis when scaled out).
    "DEFAULT_THROTTLE_RATES": {"auth": env("AUTH_THROTTLE_RATE", default="30/min")},
    # How many proxies' X-Forwarded-For entries identify the client; 0 = use the socket address, so a
    # client cannot pick its own identity (and dodge the login throttle) with a forged header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://prefloop")}

# API tokens (labeling.models.ApiToken): lifetime, and how many live ones a user may hold (oldest go first).
API_TOKEN_LIFETIME = timedelta(days=env.int("API_TOKEN_LIFETIME_DAYS", default=30))
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=10)

SPECTACULAR_SETTINGS = {
    "TITLE": "Prefloop API",
    "DESCRIPTION": "Human preference data collection and RLHF training loop.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and Swagger UI are for signed-in users, like the rest of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from drf-spectacular-sidecar's pinned copy in our static files, not a CDN: /api/docs/
    # works offline and under the Content-Security-Policy (its init script is a file too: the split view).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The error statuses every endpoint really answers (401/403/404/400/413/429): labeling.api.schema.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labeling.api.schema.add_error_responses",
    ],
    # Several models have a "kind"/"status" field; name each choice set once so the schema (and
    # the TypeScript generated from it) gets stable, readable enum names.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "labeling.models.Campaign.Status",
        "TaskKindEnum": "labeling.models.Task.Kind",
        "AssignmentStatusEnum": "labeling.models.Assignment.Status",
        "ModelVersionKindEnum": "labeling.models.ModelVersion.Kind",
        "SnapshotKindEnum": "labeling.models.DatasetSnapshot.Kind",
        "JobKindEnum": "labeling.models.Job.Kind",
        "JobStatusEnum": "labeling.models.Job.Status",
        "QualitySignalEnum": "labeling.selectors.signals.SIGNALS",
    },
}

# Uploads: prompt imports are streamed and bounded (see labeling.services.prompt_import).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
# Prompt files stream (bounded memory), so the limit is about disk: an upload over the sync limit is
# stored under PREFLOOP_DATA_DIR/jobs/<id>/ and imported by a background job (docs/api.md).
PROMPT_IMPORT_MAX_BYTES = env.int("PROMPT_IMPORT_MAX_BYTES", default=1024 * 1024 * 1024)
PROMPT_IMPORT_SYNC_MAX_BYTES = env.int("PROMPT_IMPORT_SYNC_MAX_BYTES", default=1024 * 1024)
# An import's write proves its own references by row counts; where the database role may set
# session_replication_role it skips the per-row foreign-key triggers (labeling.services.prompt_bulk).
PROMPT_IMPORT_SKIP_FK_TRIGGERS = env.bool("PROMPT_IMPORT_SKIP_FK_TRIGGERS", default=True)
PROMPT_MAX_CHARS = env.int("PROMPT_MAX_CHARS", default=20_000)

# Celery: embedded default is kombu's filesystem transport (no broker server).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"labeling.jobs.tasks.run_training_job": {"queue": "gpu"}}
# Task modules outside an app's tasks.py (autodiscovery only finds labeling/tasks.py).
CELERY_IMPORTS = ("labeling.jobs.tasks",)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Fail fast when the broker is down: a job is recorded first and re-dispatched by the sweep.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 10}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BEAT_SCHEDULE = {
    "expire-stale-leases": {
        "task": "labeling.tasks.expire_stale_leases",
        "schedule": env.float("LEASE_EXPIRY_INTERVAL_S", default=30.0),
    },
    "sweep-jobs": {
        "task": "labeling.jobs.tasks.sweep_jobs",
        "schedule": env.float("JOB_SWEEP_INTERVAL_S", default=30.0),
    },
    "refresh-dashboards": {
        "task": "labeling.tasks.refresh_dashboards",
        "schedule": env.float("DASHBOARD_SWEEP_INTERVAL_S", default=30.0),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Where snapshots, model artifacts and job logs live (shared storage when scaled out).
PREFLOOP_DATA_DIR = Path(env("PREFLOOP_DATA_DIR", default=str(VAR_DIR / "data")))
PREFLOOP_MODEL_CACHE = env("PREFLOOP_MODEL_CACHE", default=str(VAR_DIR / "models"))
PREFLOOP_TRAINING_PYTHON = env("PREFLOOP_TRAINING_PYTHON", default="")
# Model folders may also live in these roots (besides the data dir and the model cache).
PREFLOOP_MODEL_ROOTS = env.list("PREFLOOP_MODEL_ROOTS", default=[])
# Accelerate configs a job may name, besides the ones shipped in docker/accelerate/: name=path pairs.
PREFLOOP_ACCELERATE_CONFIGS = env.dict("PREFLOOP_ACCELERATE_CONFIGS", default={})

# Durable jobs (labeling/jobs/sweep.py).
JOB_STALE_AFTER_S = env.float("JOB_STALE_AFTER_S", default=120.0)  # no heartbeat this long: the worker is gone
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)  # worker losses before a job is failed
JOB_REDISPATCH_AFTER_S = env.float("JOB_REDISPATCH_AFTER_S", default=600.0)  # queued and unclaimed: send again
EXPORT_TMP_MAX_AGE_S = env.float("EXPORT_TMP_MAX_AGE_S", default=900.0)  # abandoned .tmp-* export folders
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=2000)  # larger exports run in a worker
# Dashboards (labeling/services/dashboards.py, dashboard_reports.py; docs/scale.md "Dashboards").
DASHBOARD_MARGIN_S = env.float("DASHBOARD_MARGIN_S", default=120.0)  # each sweep recounts this far behind its watermark
DASHBOARD_MAX_LAG_S = env.float("DASHBOARD_MAX_LAG_S", default=3600.0)  # ...but never further (the scrub covers the rest)
DASHBOARD_READ_REFRESH_S = env.float("DASHBOARD_READ_REFRESH_S", default=60.0)  # a read sweeps first if beat fell behind
QUALITY_SYNC_MAX_LABELS = env.int("QUALITY_SYNC_MAX_LABELS", default=5000)  # smaller campaigns: computed in the request
QUALITY_MAX_AGE_S = env.float("QUALITY_MAX_AGE_S", default=300.0)  # a stale stored report is recomputed after this
PREFLOOP_TRAIN_FLOPS = env.float("PREFLOOP_TRAIN_FLOPS", default=1e11)  # job estimates: effective FLOP/s of training workers

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
