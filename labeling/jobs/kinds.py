"""Job kinds as the dashboard and the API see them, read from the training CLI (``python -m training schema``).

The training config dataclasses are the one definition of a job kind's inputs and parameters; this
module reads them through the CLI (the web half never imports ``training``), caches the answer per
version of the training code, and adds only the launcher's own options (``RUNNER_PARAMS``). Everything that validates a job request lives here:
unknown params, wrong types, non-finite numbers, inputs of the wrong kind.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

TRAINING_DIR = Path(settings.BASE_DIR) / "training"
MAX_PARAM_STRING = 500

# Options of the job runner itself (not of the training CLI): the same shape as the CLI's params.
RUNNER_PARAMS: dict[str, list[dict]] = {
    "*": [
        {"name": "output_name", "type": "string", "help": "Name of the registered model (default <kind>-job<id>).",
         "kinds": ["sft", "reward", "ppo", "dpo"]},
        {"name": "accelerate_config", "type": "choice", "help": "Train across GPUs with one of the shipped "
         "accelerate configs (docker/accelerate/).", "kinds": ["sft", "reward", "ppo", "dpo"]},
        {"name": "num_processes", "type": "integer", "help": "Processes (GPUs) for accelerate launch.",
         "kinds": ["sft", "reward", "ppo", "dpo"], "minimum": 1},
        {"name": "campaign", "type": "campaign", "help": "Campaign whose ranking tasks the samples become "
         "(default: each prompt's own campaign).", "kinds": ["generate"]},
    ],
}

_lock = threading.Lock()
_memo: dict[str, dict] = {}


@functools.lru_cache(maxsize=1)
def training_version() -> str:
    """A digest of the training code: the schema cache is keyed by it (computed once per process: the
    training code a process launches does not change under it without a restart)."""
    digest = hashlib.sha256()
    for path in sorted(TRAINING_DIR.rglob("*.py")):
        digest.update(path.relative_to(TRAINING_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _run_schema_cli() -> dict:
    python = settings.PREFLOOP_TRAINING_PYTHON or sys.executable
    proc = subprocess.run([python, "-m", "training", "schema"], cwd=settings.BASE_DIR, capture_output=True,
                          text=True, timeout=300, env={**_child_env(), "PYTHONDONTWRITEBYTECODE": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"python -m training schema failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def _child_env() -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["HF_HUB_OFFLINE"] = "1"
    return env


def training_schema() -> dict:
    """The CLI's schema, from memory, then a file cache under the data dir, then the CLI itself."""
    version = training_version()
    with _lock:
        if version in _memo:
            return _memo[version]
        cache = Path(settings.PREFLOOP_DATA_DIR) / "cache" / f"training-schema-{version}.json"
        try:
            schema = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            schema = _run_schema_cli()
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_name(cache.name + ".tmp")
                tmp.write_text(json.dumps(schema), encoding="utf-8")
                tmp.replace(cache)
            except OSError:
                logger.warning("cannot write the training schema cache %s", cache)
        _memo[version] = schema
        return schema


def accelerate_configs() -> dict[str, Path]:
    """Accelerate configs a job may name: the shipped ones plus settings.PREFLOOP_ACCELERATE_CONFIGS."""
    shipped = {p.stem: p for p in sorted((Path(settings.BASE_DIR) / "docker" / "accelerate").glob("*.yaml"))}
    extra = {name: Path(path) for name, path in getattr(settings, "PREFLOOP_ACCELERATE_CONFIGS", {}).items()}
    return {**shipped, **extra}


def _runner_params(kind: str) -> list[dict]:
    out = []
    for p in RUNNER_PARAMS["*"]:
        if kind not in p["kinds"]:
            continue
        spec = {"name": p["name"], "type": p["type"], "choices": None, "nullable": True, "default": None,
                "required": False, "suggested": None, "help": p["help"], "group": "runner"}
        if p["name"] == "accelerate_config":
            spec["choices"] = sorted(accelerate_configs())
        if "minimum" in p:
            spec["minimum"] = p["minimum"]
        out.append(spec)
    return out


def job_kind_specs(*, include_internal: bool = False) -> list[dict]:
    """Every job kind with its inputs, params (training + runner) and suggested values; ``internal`` kinds
    (started by the platform itself, e.g. a human evaluation's ``score``) only when asked for."""
    kinds = []
    for spec in training_schema()["kinds"]:
        if spec.get("internal") and not include_internal:
            continue
        kinds.append({**spec, "params": spec["params"] + _runner_params(spec["kind"])})
    return kinds


def job_kind_spec(kind: str) -> dict:
    """One kind's spec (internal ones included); ValidationError for an unknown kind."""
    for spec in job_kind_specs(include_internal=True):
        if spec["kind"] == kind:
            return spec
    known = ", ".join(s["kind"] for s in job_kind_specs())  # what a user may start
    raise ValidationError({"kind": [f"unknown job kind {kind!r}; expected one of {known}"]})


def suggested_params(kind: str) -> dict:
    """The params that differ from the CLI defaults in a quick first run (what the form prefills)."""
    spec = job_kind_spec(kind)
    return {p["name"]: p["suggested"] for p in spec["params"]
            if p["group"] != "runner" and p["suggested"] != p["default"]}


# ---------------------------------------------------------------- params validation

def _check_value(spec: dict, value, where: str) -> str | None:
    """An error message for a bad value of one param, or None."""
    kind = spec["type"]
    if value is None:
        return None if spec.get("nullable") else f"{where}: must not be null"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"{where}: must be true or false, got {value!r}"
    if kind in ("integer", "campaign"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{where}: must be an integer, got {value!r}"
        if abs(value) > 2**53:
            return f"{where}: {value} is out of range"
        if value < spec.get("minimum", -math.inf):
            return f"{where}: must be >= {spec['minimum']}"
        return None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{where}: must be a number, got {value!r}"
        return None if math.isfinite(value) else f"{where}: must be a finite number"
    if not isinstance(value, str):
        return f"{where}: must be a string, got {type(value).__name__}"
    if kind == "choice" and value not in spec["choices"]:
        return f"{where}: must be one of {', '.join(map(str, spec['choices']))}; got {value!r}"
    if len(value) > MAX_PARAM_STRING or "\x00" in value or not _encodable(value):
        return f"{where}: must be printable text of at most {MAX_PARAM_STRING} characters"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def validate_params(kind: str, params) -> dict:
    """Params checked against the kind's spec: known names, right types, finite numbers. Raises ValidationError."""
    if not isinstance(params, dict):
        raise ValidationError({"params": ["must be a JSON object of parameter name → value"]})
    specs = {p["name"]: p for p in job_kind_spec(kind)["params"]}
    errors = []
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            errors.append(f"{str(name)[:80]!r}: not a parameter of a {kind} job "
                          f"(known: {', '.join(sorted(specs))})")
            continue
        message = _check_value(spec, value, name)
        if message:
            errors.append(message)
    if errors:
        raise ValidationError({"params": errors})
    return dict(params)
