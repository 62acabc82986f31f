"""OpenAPI post-processing: list the error statuses every endpoint really answers.

Views document their own successes and domain errors (409 conflicts, import reports); the statuses
that come from the framework are the same for every endpoint of a kind, so they are added here once
instead of in each ``extend_schema``: 401/403 (authentication and role checks) on protected
endpoints, 403 on the session login (CSRF), 404 where the path names an object, 400 and 413 where a
body is read (``labeling.api.parsers``, ``DATA_UPLOAD_MAX_MEMORY_SIZE``) or a query filters, 429 on the
throttled login doors. tests/labeling/test_api_fuzz.py checks the schema against the live API.
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": '{"detail": "message"}, or for invalid fields {"field": ["message", ...]}',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
_MESSAGES = {
    "400": "invalid input: the body says what and where",
    "401": "not authenticated (no, invalid or expired credentials)",
    "403": "authenticated but not allowed (role, ownership or CSRF)",
    "404": "no such object (or not yours)",
    "413": "request body over the size limit",
    "429": "too many attempts: try again later",
}
THROTTLED = {"/api/v1/auth/token", "/api/v1/auth/login"}
BODY_METHODS = {"post", "put", "patch"}


def _error_codes(path: str, method: str, operation: dict) -> set[str]:
    codes = set()
    if {} not in operation.get("security", [{}]):
        codes |= {"401", "403"}
    if "{" in path:
        codes.add("404")
    if method in BODY_METHODS:
        codes |= {"400", "413"}
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        codes.add("400")
    if path in THROTTLED:
        codes |= {"400", "429"}
    if path == "/api/v1/auth/login":
        codes.add("403")  # login CSRF
    return codes


def add_error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in sorted(_error_codes(path, method, operation)):
                responses.setdefault(code, {
                    "description": _MESSAGES[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
