"""Local/embedded default: DEBUG on, an insecure key is tolerated (never in production)."""
from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "dev-insecure-only-for-local-use"  # noqa: F405
