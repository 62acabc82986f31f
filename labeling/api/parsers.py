"""The API's JSON parser: any body that is not storable JSON is a 400 with a message, never a 500.

DRF's ``JSONParser`` already answers 400 for a syntax error and for the ``NaN``/``Infinity``
literals, but a deeply nested body (5,000 ``[``) raises RecursionError inside ``json.load``, and
bodies that parse fine can still crash later: ``1e400`` becomes float infinity (PostgreSQL's
jsonb refuses it) and a ``"\\ud800"`` escape becomes a lone surrogate that no UTF-8 encoder
accepts (in a prompt, an author id, a note...). This parser checks the whole parsed body once,
for every endpoint, anonymous ones included, with the same walker that free-form JSON fields use
(``labeling.services.json_input``), and names the path of the first problem.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from labeling.services.json_input import json_body_problem

# Deeper than any body the API documents (a ranking is 3 levels, a free-form field at most 20
# more), and far below what makes json.dumps or the renderer recurse too deep.
MAX_BODY_DEPTH = 32


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested too deeply (the limit is {MAX_BODY_DEPTH} levels)") from None
        problem = json_body_problem(data, max_depth=MAX_BODY_DEPTH)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
