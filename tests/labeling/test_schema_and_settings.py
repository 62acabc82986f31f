"""The OpenAPI schema generates without warnings; production settings refuse a missing secret or a
per-process cache under the login throttle, and pass ``check --deploy`` (but for HSTS preload)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/queue/next", "/api/v1/assignments/{assignment_id}/submit", "/api/v1/campaigns/{campaign_id}/prompts/import"):
        assert path in text


SHARED_CACHE = {"CACHE_URL": "redis://127.0.0.1:6379/14"}  # only configured here, never connected to
STRONG_KEY = {"SECRET_KEY": "k3y-" + "Zq9xW2vB7nM4pL8sT1rY6uE5oI0aS3dF" * 2}


def _production_env(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE", "CACHE_URL", "AUTH_THROTTLE_SINGLE_PROCESS",
                        "DJANGO_ALLOW_ASYNC_UNSAFE")}  # set by the browser tests' conftest, refused by check --deploy
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", "PREFLOOP_VAR_DIR": "/tmp/prefloop-prod-check", **env_extra})
    return env


def _django_check(env_extra: dict) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_production_env(env_extra), capture_output=True,
                          text=True, timeout=120)


def test_production_settings_refuse_to_start_without_secret_key():
    result = _django_check({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_start_with_a_secret_key_and_a_shared_cache():
    result = _django_check({"SECRET_KEY": "x" * 50, **SHARED_CACHE})
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_production_settings_refuse_a_per_process_cache_under_the_login_throttle():
    result = _django_check({"SECRET_KEY": "x" * 50})
    assert result.returncode != 0 and "login throttle needs a cache shared by every web process" in result.stderr
    assert _django_check({"SECRET_KEY": "x" * 50, "AUTH_THROTTLE_SINGLE_PROCESS": "true"}).returncode == 0


def test_check_deploy_leaves_only_the_hsts_preload_opt_in():
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, capture_output=True, text=True,
                            env=_production_env({**STRONG_KEY, **SHARED_CACHE}), timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.findall(r"\((security\.\w+)\)", result.stdout + result.stderr) == ["security.W021"], result.stdout
