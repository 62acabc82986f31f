"""The OpenAPI schema generates without warnings; production settings refuse a missing secret."""

import os
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


def _django_check(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", "PREFLOOP_VAR_DIR": "/tmp/prefloop-prod-check", **env_extra})
    code = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_refuse_to_start_without_secret_key():
    result = _django_check({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_start_with_a_secret_key():
    result = _django_check({"SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout
