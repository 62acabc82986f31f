"""Serializer fields shared by the API modules."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.services.json_input import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, validate_free_json


class FreeJSONField(serializers.JSONField):
    """A free-form JSON value, checked by ``validate_free_json`` (depth, size, finite numbers,
    valid Unicode, no NUL): errors name the path inside the value, e.g. ``metadata.tags[3]: NaN is
    not allowed``. Use it for every free-form JSON input (settings, metadata, params...)."""

    def __init__(self, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int = DEFAULT_MAX_BYTES, **kwargs):
        self.max_depth, self.max_bytes = max_depth, max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        try:
            return validate_free_json(data, where=self.field_name, max_depth=self.max_depth, max_bytes=self.max_bytes)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


@extend_schema_field({"type": "object", "additionalProperties": {}})
class FreeJSONObjectField(FreeJSONField):
    """A :class:`FreeJSONField` whose value must be a JSON object (``{...}``)."""

    default_error_messages = {"not_object": "must be a JSON object"}

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            self.fail("not_object")
        return data


class _StrictType:
    """Refuses values of the wrong JSON type instead of coercing them (DRF turns ``"yes"`` into
    True, ``"5"`` into 5.0 and ``5`` into ``"5"``): what a client sends is what it meant, or a 400."""

    json_types: tuple[type, ...] = ()
    type_name = ""

    def to_internal_value(self, data):
        is_bool_ok = isinstance(data, bool) == (bool in self.json_types)  # bool is an int subclass in Python
        if not (isinstance(data, self.json_types) and is_bool_ok):
            raise serializers.ValidationError(f"must be {self.type_name}, not {_json_type_name(data)}", code="invalid")
        return super().to_internal_value(data)


def _json_type_name(value) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


class StrictBooleanField(_StrictType, serializers.BooleanField):
    json_types, type_name = (bool,), "true or false"


class StrictFloatField(_StrictType, serializers.FloatField):
    json_types, type_name = (int, float), "a number"


class StrictCharField(_StrictType, serializers.CharField):
    json_types, type_name = (str,), "a string"
