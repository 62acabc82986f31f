"""One error shape for the whole API: ``{"detail": "...", "errors": {...field: [messages]}}``."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Turn Django's ValidationError (raised by services) into a 400 and keep DRF's handling otherwise."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(detail=exc.message_dict)
        else:
            exc = exceptions.ValidationError(detail={"detail": exc.messages})
    return drf_exception_handler(exc, context)
