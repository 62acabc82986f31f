"""Errors the training CLI reports to the user without a traceback."""


class TrainingInputError(Exception):
    """Bad input (a file, a row, a model folder, a config value).

    The message names the offending file and, where it applies, the line,
    e.g. ``data/train.jsonl:7: ranking is not a partition of range(4)``.
    ``python -m training`` prints ``error: <message>`` to stderr and exits 2.
    """
