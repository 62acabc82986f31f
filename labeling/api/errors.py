"""One error shape for the whole API: ``{"detail": "..."}``, or field keys → lists of messages.

Services raise plain Python/Django exceptions; this handler is the only place that knows their
HTTP statuses: ValidationError → 400, ImportRejected → 400 with ``errors``, DoesNotExist → 404,
Conflict → 409, PayloadTooLarge → 413.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.services.errors import Conflict, ImportRejected, PayloadTooLarge


class DetailOutput(serializers.Serializer):
    """The error body: a human-readable message."""

    detail = serializers.CharField()


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict with the stored state"
    default_code = "conflict"


class PayloadTooLargeError(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the upload is too large"
    default_code = "too_large"


class BadRequest(exceptions.APIException):
    """A 400 with a plain ``{"detail": "..."}`` (not tied to a field)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "bad request"
    default_code = "bad_request"


def _translate(exc):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(detail=exc.message_dict)
        return exceptions.ValidationError(detail={"detail": exc.messages})
    if isinstance(exc, Conflict):
        return ConflictError(exc.message)
    if isinstance(exc, PayloadTooLarge):
        return PayloadTooLargeError(exc.message)
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    return exc


def exception_handler(exc, context):
    """DRF's handler, taught about the services' exceptions (see module docstring)."""
    if isinstance(exc, ImportRejected):
        return Response({"detail": exc.message, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(_translate(exc), context)
