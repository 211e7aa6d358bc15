"""``dnnfi-status [LOGS]``: state, progress, rate and ETA of every job of a study, read from the
job logs under LOGS (default ``results/logs``; the lines of :mod:`dnnfi.workflow.runlog`). The same on a
laptop and on a SLURM login node, where the jobs' logs are on the shared file system.

A job is ``done`` or ``failed`` when its log says so, ``running`` while its process is alive, and
``stopped`` when its process on this host is gone without a word (killed: out of memory, time,
Ctrl-C); a job on another host without an end line counts as running (see its ``updated`` age).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dnnfi.workflow.runlog import last_error_line

#: a logging line of a job log: time and message (dnnfi.workflow.runlog's format)
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ [A-Z]+ (.*)$")
START = re.compile(r"^start (\S+) attempt (\d+) threads \S+ host (\S+) pid (\d+)$")
PROGRESS = re.compile(r"^progress (\S+) (\d+)/(\d+|\?) (\S+)/s eta (\d+|\?)(?: (.*))?$")


@dataclass
class Job:
    name: str  # the log's path under LOGS, without .log
    state: str = "unknown"  # a log without a start line (not written by dnnfi.workflow.runlog)
    attempt: int = 1
    stage: str = ""
    done: int | None = None
    total: int | None = None
    rate: float | None = None
    eta: float | None = None  # seconds from now
    extra: str = ""  # the progress line's key=value fields
    updated: datetime | None = None  # time of the log's last timestamped line
    cause: str = ""  # the error line of a failed job


def read_job(path: Path, name: str, now: datetime) -> Job:
    """The job of the log ``path``, seen at ``now``, from its last start line on."""
    job = Job(name)
    host = pid = None
    text = path.read_text(errors="replace")
    for line in text.replace("\r", "\n").splitlines():
        if not (m := LINE.match(line)):
            continue
        job.updated, message = datetime.fromisoformat(m.group(1)), m.group(2)
        if s := START.match(message):
            job = Job(name, "running", int(s.group(2)), updated=job.updated)
            host, pid = s.group(3), int(s.group(4))
        elif p := PROGRESS.match(message):
            job.stage, job.done, job.extra = p.group(1), int(p.group(2)), p.group(6) or ""
            total, job.rate, job.eta = (None if v == "?" else float(v) for v in p.group(3, 4, 5))
            job.total = None if total is None else int(total)
            if job.eta is not None:  # counted down from the line's time
                job.eta = max(0.0, job.eta - (now - job.updated).total_seconds())
        elif message == "done":
            job.state, job.eta = "done", None
        elif message.startswith("failed: "):
            job.state, job.eta, job.cause = "failed", None, message.removeprefix("failed: ")
    if job.state == "running" and host == socket.gethostname() and not _alive(pid):
        job.state, job.eta = "stopped", None
        job.cause = last_error_line(text) or ""
    return job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def jobs(logs: Path, now: datetime | None = None) -> list[Job]:
    """Every job of the logs under ``logs`` (its kept attempts aside), sorted by name."""
    now = now or datetime.now()
    paths = sorted(p for p in logs.rglob("*.log") if not re.search(r"\.attempt-\d+$", p.stem))
    return [read_job(p, str(p.relative_to(logs).with_suffix("")), now) for p in paths]


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else str(timedelta(seconds=round(seconds)))


def table(found: list[Job], now: datetime | None = None) -> str:
    """The jobs as an aligned text table, a count per state first."""
    now = now or datetime.now()
    counts = {}
    for job in found:
        counts[job.state] = counts.get(job.state, 0) + 1
    rows = [("JOB", "STATE", "ATTEMPT", "PROGRESS", "RATE", "ETA", "UPDATED", "")]
    for job in found:
        progress = f"{job.stage} {job.done}/{job.total or '?'}" if job.stage else "-"
        if job.stage and job.total:
            progress += f" ({100 * job.done / job.total:.0f}%)"
        rows.append(
            (
                job.name,
                job.state,
                str(job.attempt),
                progress,
                "-" if job.rate is None else f"{job.rate:.3g}/s",
                _duration(job.eta),
                "-"
                if job.updated is None
                else f"{_duration((now - job.updated).total_seconds())} ago",
                job.cause or job.extra,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    summary = f"{len(found)} jobs: " + ", ".join(
        f"{n} {state}" for state, n in sorted(counts.items())
    )
    return "\n".join([summary, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dnnfi-status", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "logs", nargs="?", default="results/logs", type=Path, help="the study's job logs"
    )
    logs = parser.parse_args(argv).logs
    if not logs.is_dir():
        print(
            f"dnnfi-status: {logs}: no such folder (run it in the study's folder, or name its results/logs)",
            file=sys.stderr,
        )
        return 2
    print(table(jobs(logs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
