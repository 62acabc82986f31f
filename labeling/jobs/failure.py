"""A failed job's message: one clear line first (what went wrong), then the end of the log below it."""
from __future__ import annotations

import re

from labeling.models import Job

TAIL_LINES = 15
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt)|[A-Za-z_][\w.]*Exit)(: .*)?$")


def _headline_from_log(lines: list[str], returncode: int) -> str:
    """The CLI's ``error: ...`` line, else a Python exception line, else the exit status in words."""
    errors = [ln for ln in lines if ln.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    exceptions = [ln.strip() for ln in lines if _EXC_LINE.match(ln.strip())]
    if exceptions:
        last = exceptions[-1]
        if last.startswith(("MemoryError", "torch.OutOfMemoryError", "torch.cuda.OutOfMemoryError")):
            return f"out of memory: {last}"
        if last.startswith("PermissionError"):
            return f"a file or folder is not writable: {last.split(': ', 1)[-1]}"
        return last
    if returncode < 0 or returncode in (137, 143):
        return f"training was killed by a signal (exit status {returncode}); out of memory is a common cause"
    return f"training exited with status {returncode}"


def run_error(log_text: str, returncode: int) -> str:
    """One headline line, a blank line, then the last lines of the log (the command line excluded)."""
    lines = [ln for ln in log_text.splitlines() if ln.strip() and not ln.startswith("$ ")]
    headline = _headline_from_log(lines, returncode)
    tail = "\n".join(lines[-TAIL_LINES:])
    return headline + (f"\n\n{tail}" if tail and tail.strip() != headline else "")


def start_error(exc: Exception, job: Job) -> str:
    """Why the run could not even start, in one line."""
    if isinstance(exc, PermissionError):
        return f"output folder is not writable: {exc.filename or job.output_dir}"
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot prepare the job folder {exc.filename}: {exc.strerror}"
    messages = getattr(exc, "messages", None)
    if messages:  # an input that no longer passes the path check, a deleted model
        return f"cannot start: {'; '.join(messages)}"
    return f"cannot start: {exc}"
