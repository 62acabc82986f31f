"""The API's JSON parser: any body that is not storable JSON is a 400 with a message, never a 500.

DRF's ``JSONParser`` already answers 400 for a syntax error and for the ``NaN``/``Infinity``
literals, but a deeply nested body (5,000 ``[``) raises RecursionError inside ``json.load``, and
bodies that parse fine can still crash later: ``1e400`` becomes float infinity (PostgreSQL's
jsonb refuses it) and a ``"\\ud800"`` escape becomes a lone surrogate that no UTF-8 encoder
accepts (in a prompt, an author id, a note...). This parser checks every body, for every endpoint,
anonymous ones included, with the same walker that free-form JSON fields use
(``labeling.services.json_input``), and names the path of the first problem.

Why the pre-checks: walking every parsed body would cost more than the parse itself on the queue's
hot path. A body can only hold such a value if its text or its parse shows it: a surrogate only
arrives as a ``\\uD800``-``\\uDFFF`` escape (raw surrogate bytes are not valid UTF-8 and fail to
decode), an infinite float is seen as it is parsed, and nesting deeper than the limit needs more
brackets than the limit. Bodies with none of these (nearly all) skip the walk.
"""

import json
import math
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from labeling.services.json_input import json_body_problem

# Deeper than any body the API documents (a ranking is 3 levels, a free-form field at most 20
# more), and far below what makes json.dumps or the renderer recurse too deep.
MAX_BODY_DEPTH = 32
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        overflowed = []

        def parse_float(text: str) -> float:
            value = float(text)
            if math.isinf(value):
                overflowed.append(text)
            return value

        try:
            data = json.loads(raw.decode(encoding), parse_constant=strict_constant, parse_float=parse_float)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested too deeply (the limit is {MAX_BODY_DEPTH} levels)") from None
        except ValueError as exc:  # syntax, encoding, NaN/Infinity literals, integers over 4300 digits
            raise ParseError(f"JSON parse error - {exc}") from None
        suspicious = (
            overflowed
            or raw.count(b"[") + raw.count(b"{") > MAX_BODY_DEPTH
            or (b"\\u" in raw and _SURROGATE_ESCAPE.search(raw))
        )
        if suspicious:
            problem = json_body_problem(data, max_depth=MAX_BODY_DEPTH)
            if problem:
                raise ParseError(f"JSON parse error - {problem}")
        return data
