"""A job's log file: where its output goes, the lines `dnnfi status` reads, the cause of a failure.

:func:`start` sends everything a job prints (logging, warnings, progress, tracebacks, native
libraries' fd 2) to its Snakemake log file. Besides free text the log holds these lines (after
logging's ``<date> <time> <level>`` prefix; README, "Following a run"):

- ``start <rule> attempt <n> threads <t> host <host> pid <pid>``: the job (or a retry) began;
- ``progress <stage> <done>/<total> <rate>/s eta <seconds>`` (``?`` where unknown; optional
  ``key=value`` fields after), written by :class:`Progress` every :data:`INTERVAL` seconds;
- ``done``: the script ended without an error; ``failed: <ErrorType: message>``: it raised.

Snakemake deletes a job's log before each attempt; :func:`start` keeps the attempt as a hard link
``<log stem>.attempt-<n>.log``, removed when the attempt succeeds, so failed and killed attempts
stay. The job's ``threads`` go to TensorFlow and PyTorch (:func:`start`, ``DNNFI_THREADS``).
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import re
import resource
import socket
import sys
import traceback
from pathlib import Path

from tqdm import tqdm

#: seconds between two progress lines of a stage
INTERVAL = 30
#: the last line of a Python traceback: ``SomeError: message`` (also dotted module paths)
ERROR_LINE = re.compile(
    r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*)?$"
)

log = logging.getLogger("dnnfi")


def start(log_file: str, rule: str, threads: int) -> logging.Logger:
    """Call first in a job's script (before ``interpreters.switch`` and any other import, so that
    their errors reach the log), with the job's log file, rule name and threads: append stdout, stderr (Keras' epoch lines, warnings, framework
    chatter, native libraries' fd 2, tracebacks) and the root logger to the job's log, keep this
    attempt's log, export the job's threads, and log ``done`` or ``failed: ...`` at exit."""
    path = Path(log_file)
    sys.stderr = sys.stdout = open(
        path, "a", buffering=1
    )  # "a": an interpreter switch continues it
    os.dup2(sys.stderr.fileno(), 2)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    attempt, n = keep_attempt(path)
    # TensorFlow's and PyTorch's intra- and inter-op threads: dnnfi.engines.kerasfi and dnnfi.engines.torchfi set them
    # from DNNFI_THREADS on import; OpenMP's and MKL's (Snakemake sets them too) in this job's processes
    threads = str(threads)
    os.environ.update(DNNFI_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    log.info(
        "start %s attempt %d threads %s host %s pid %d",
        rule,
        n,
        threads,
        socket.gethostname(),
        os.getpid(),
    )
    log.info("Python %s", sys.executable)  # the job's environment (config key python, conda env)
    atexit.register(_succeeded, attempt)
    atexit.register(_log_peak_memory)  # runs first (atexit runs in reverse order)
    sys.excepthook = _failed
    return log


def keep_attempt(path: Path) -> tuple[Path, int]:
    """The hard link ``<stem>.attempt-<n>.log`` of the log ``path`` and n, one more than the
    attempts kept (the existing link when an interpreter switch opens the log again)."""
    kept = sorted(path.parent.glob(f"{path.stem}.attempt-*.log"), key=_attempt_number)
    if kept and kept[-1].samefile(path):
        return kept[-1], len(kept)
    attempt = path.with_name(f"{path.stem}.attempt-{len(kept) + 1}.log")
    os.link(path, attempt)
    return attempt, len(kept) + 1


def _attempt_number(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


def _failed(kind, error, trace) -> None:
    sys.__excepthook__(kind, error, trace)
    log.error("failed: %s", traceback.format_exception_only(kind, error)[-1].strip())
    atexit.unregister(_succeeded)


def _log_peak_memory() -> None:
    """The job's peak RSS as the kernel counted it (Snakemake's benchmark files sample it, every
    second, then every 30 s, and miss short peaks); config/README.md, section Resources."""
    log.info("peak RSS %d MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def _succeeded(attempt: Path) -> None:
    attempt.unlink()
    log.info("done")


class Progress(tqdm):
    """tqdm's bar as log lines ``progress <desc> <n>/<total> <rate>/s eta <s>[ <postfix>]``: one
    at the start, then at most one every ``mininterval`` seconds (:data:`INTERVAL`; 0: at every
    update), one at the end. The rate is tqdm's smoothed one, else the mean since the start."""

    monitor_interval = 0  # no tqdm thread forcing lines in between

    def __init__(self, *args, mininterval: float = INTERVAL, **kwargs):
        # the lines go through logging; tqdm's own stream only gets the newline it writes at the end
        super().__init__(*args, mininterval=mininterval, miniters=1, file=io.StringIO(), **kwargs)

    def display(self, msg=None, pos=None) -> None:
        if self.n == getattr(self, "logged", None):  # tqdm's close repeats the last update
            return
        self.logged = self.n
        d = self.format_dict
        rate = d["rate"] or (d["n"] / d["elapsed"] if d["elapsed"] else None)
        eta = f"{(d['total'] - d['n']) / rate:.0f}" if rate and d["total"] else "?"
        postfix = f" {d['postfix']}" if d["postfix"] else ""
        log.info(
            "progress %s %d/%s %s/s eta %s%s",
            d["prefix"] or "items",
            d["n"],
            d["total"] or "?",
            f"{rate:.3g}" if rate else "?",
            eta,
            postfix,
        )


def last_error_line(text: str) -> str | None:
    """The last ``SomethingError: message`` line of a job log (None if there is none)."""
    for line in reversed(text.replace("\r", "\n").splitlines()):
        if ERROR_LINE.match(line.strip()):
            return line.strip()
    return None


def failure_lines(job_logs: list) -> list[str]:
    """``<job log>: <last error line>`` for each of the failed jobs' logs that holds one."""
    lines = []
    for path in dict.fromkeys(map(str, job_logs)):
        try:
            error = last_error_line(Path(path).read_text(errors="replace"))
        except OSError:
            continue
        if error:
            lines.append(f"{path}: {error}")
    return lines
