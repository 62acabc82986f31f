"""The deployment files say what they should: CI calls `make test`; compose has the scaled-out shape,
configured by environment only; the accelerate configs load in accelerate itself."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_make_test():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip()]
    assert lines[0].startswith("#!") and "set -euo pipefail" in lines
    assert lines[-1] == "make test"


def test_compose_has_the_scaled_out_shape():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "gpu-worker", "beat", "postgres", "redis"} <= set(services)
    assert "gunicorn" in services["web"]["command"]
    worker_cmd = " ".join(services["worker"]["command"])
    assert "-Q default" in worker_cmd and "gpu" not in worker_cmd.split("-Q")[1].split()[0]
    gpu_cmd = " ".join(services["gpu-worker"]["command"])
    assert "-Q gpu" in gpu_cmd and "--concurrency 1" in gpu_cmd
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "beat" in services["beat"]["command"]
    for name in ("web", "worker", "gpu-worker", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        for key in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "PREFLOOP_DATA_DIR"):
            assert key in env, (name, key)
        assert any(v.endswith(":/data") for v in services[name]["volumes"]), name
    # No secret is baked in: SECRET_KEY must come from the environment.
    text = (ROOT / "docker" / "compose.yaml").read_text()
    assert re.search(r"SECRET_KEY: \$\{SECRET_KEY:\?", text)
    assert "POSTGRES_PASSWORD:-" not in text, "no default database password"


def test_compose_file_validates_with_a_compose_cli():
    cli = next(([c] for c in ("docker-compose",) if shutil.which(c)), None)
    if cli is None and shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        cli = ["docker", "compose"] if probe.returncode == 0 else None
    if cli is None:
        pytest.skip("no docker compose CLI here (validated with yaml above)")
    proc = subprocess.run([*cli, "-f", str(ROOT / "docker" / "compose.yaml"), "config", "-q"],
                          env={"SECRET_KEY": "validation-only", "POSTGRES_PASSWORD": "validation-only", "PATH": "/usr/bin:/bin:/usr/local/bin"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name, kind", [("ddp", "MULTI_GPU"), ("deepspeed_zero2", "DEEPSPEED"), ("fsdp", "FSDP")])
def test_accelerate_configs_load(name, kind):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(ROOT / "docker" / "accelerate" / f"{name}.yaml"))
    assert config.distributed_type.value == kind
    assert config.mixed_precision == "bf16"
    if kind == "DEEPSPEED":
        assert config.deepspeed_config["zero_stage"] == 2
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_version"] == 2
