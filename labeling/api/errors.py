"""One error shape for the whole API: ``{"detail": "..."}``, or field keys → lists of messages.

Services raise plain Python/Django exceptions; this handler is the only place that knows their
HTTP statuses: ValidationError → 400, ImportRejected → 400 with ``errors``, DoesNotExist → 404,
Conflict → 409, PayloadTooLarge and Django's RequestDataTooBig (a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE``) → 413.

What never reaches a DRF view (an unknown URL, an exception DRF does not handle, a bad request
refused by middleware) goes to Django's error handlers; ``config/urls.py`` points them at
:func:`json_error_handler`, which answers JSON under ``/api/`` and Django's usual pages elsewhere.
So API errors are JSON, always, including an unexpected 500 (logged with its traceback by Django).
"""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
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
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLargeError(f"the request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE}-byte limit")
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    return exc


def exception_handler(exc, context):
    """DRF's handler, taught about the services' exceptions (see module docstring)."""
    if isinstance(exc, ImportRejected):
        return Response({"detail": exc.message, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(_translate(exc), context)


_JSON_ERRORS = {
    400: (defaults.bad_request, "bad request"),
    403: (defaults.permission_denied, "you do not have permission to do this"),
    404: (defaults.page_not_found, "not found"),
    500: (defaults.server_error, "internal server error: the request failed and was logged"),
}


def json_error_handler(status_code: int):
    """A Django error view (``handler400`` ... ``handler500``): ``{"detail": ...}`` JSON under ``/api/``,
    Django's default page elsewhere (the SPA and the admin). Never says more than the status: an
    exception's text can hold internals."""
    default_view, message = _JSON_ERRORS[status_code]

    def view(request, exception=None):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=status_code)
        if status_code == 500:
            return default_view(request)
        return default_view(request, exception)

    view.__name__ = f"json_error_{status_code}"
    return view
