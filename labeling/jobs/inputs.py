"""A job's named inputs: chosen by id or name, checked against the kind's spec, resolved to safe paths.

A researcher picks snapshots and models by name; nothing they type becomes a path or a flag. A
snapshot's folder and a model's folder must lie inside the data directory (or one of the configured
model roots, ``PREFLOOP_MODEL_ROOTS``), or the model must be one of the training CLI's registered
names. The same check runs when a model is registered and again when a job's command line is built.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from labeling.jobs.kinds import job_kind_spec, training_schema
from labeling.models import DatasetSnapshot, ModelVersion

MODELS = {"snapshot": DatasetSnapshot, "model": ModelVersion}


def allowed_roots() -> list[Path]:
    """Folders a model or snapshot may live in: the data dir, the model cache and PREFLOOP_MODEL_ROOTS."""
    roots = [settings.PREFLOOP_DATA_DIR, settings.PREFLOOP_MODEL_CACHE, *getattr(settings, "PREFLOOP_MODEL_ROOTS", [])]
    return [Path(r).resolve() for r in roots if r]


def registered_model_names() -> list[str]:
    """Model names the training CLI builds itself (from ``python -m training schema``)."""
    return list(training_schema().get("registered_models", []))


def safe_artifact_path(value: str, *, what: str) -> str:
    """``value`` as an absolute path inside an allowed root, or a registered model name; else ValidationError."""
    if value in registered_model_names():
        return value
    if not value or "\x00" in value or not value.startswith("/"):
        raise ValidationError(f"{what} {value[:200]!r} must be an absolute folder inside the data directory "
                              f"or a registered model name ({', '.join(registered_model_names())})")
    path = Path(value).resolve()
    if not any(path.is_relative_to(root) for root in allowed_roots()):
        raise ValidationError(f"{what} {value[:200]!r} is outside the data directory and the configured model roots")
    return str(path)


def _lookup(kind: str, name: str, spec: dict, value):
    model = MODELS[spec["type"]]
    label = spec["type"]
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise ValidationError({"inputs": [f"{name}: give a {label} id or name, got {value!r}"]})
    obj = (model.objects.filter(pk=value) if isinstance(value, int) else model.objects.filter(name=value)).first()
    if obj is None:
        raise ValidationError({"inputs": [f"{name}: no {label} {value!r}"]})
    if obj.kind not in spec["kinds"]:
        raise ValidationError({"inputs": [f"{name}: a {kind} job needs a {' or '.join(spec['kinds'])} {label} here; "
                                          f"{obj.name!r} is a {obj.kind} {label}"]})
    return obj


def resolve_inputs(kind: str, raw) -> dict[str, DatasetSnapshot | ModelVersion]:
    """Named inputs → registry objects; unknown names, missing required inputs and wrong kinds are errors."""
    if not isinstance(raw, dict):
        raise ValidationError({"inputs": ["must be a JSON object of input name → snapshot/model id or name"]})
    specs = {i["name"]: i for i in job_kind_spec(kind)["inputs"]}
    unknown = sorted(str(k)[:80] for k in raw if k not in specs)
    if unknown:
        raise ValidationError({"inputs": [f"{', '.join(unknown)}: not an input of a {kind} job "
                                          f"(inputs: {', '.join(specs)})"]})
    missing = [n for n, s in specs.items() if s["required"] and raw.get(n) in (None, "")]
    if missing:
        raise ValidationError({"inputs": [f"{n}: required ({specs[n]['label']})" for n in missing]})
    resolved = {name: _lookup(kind, name, specs[name], value) for name, value in raw.items() if value not in (None, "")}
    if kind == "evaluate":
        _check_evaluate_mode(resolved)
    return resolved


def _check_evaluate_mode(inputs: dict) -> None:
    winrate = [n for n in ("prompts", "policy_a", "policy_b") if n in inputs]
    if "comparisons" in inputs and not winrate:
        return
    if "comparisons" not in inputs and len(winrate) == 3:
        if inputs["policy_a"].pk == inputs["policy_b"].pk:
            raise ValidationError({"inputs": ["policy_a and policy_b must be two different models"]})
        return
    raise ValidationError({"inputs": ["an evaluate job takes either comparisons (the reward model's pairwise "
                                      "accuracy) or prompts + policy_a + policy_b (the win rate of B over A)"]})


def describe_inputs(inputs: dict) -> dict:
    """What ``Job.inputs`` stores: type, id and name of each chosen input (paths are looked up at run time)."""
    return {name: {"type": "snapshot" if isinstance(obj, DatasetSnapshot) else "model", "id": obj.pk,
                   "name": obj.name} for name, obj in inputs.items()}


def input_path(entry: dict) -> str:
    """The checked path (or registered name) of one stored input entry, read fresh from the registry."""
    obj = MODELS[entry["type"]].objects.get(pk=entry["id"])
    value = obj.path if entry["type"] == "snapshot" else obj.artifact_path
    return safe_artifact_path(value, what=f"{entry['type']} {obj.name!r}")
