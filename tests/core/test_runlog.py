"""Job logs (dnnfi.workflow.runlog): progress lines, kept attempts, done/failed lines, the Cause line;
`dnnfi-status` on logs of running, stopped, failed and finished jobs."""

import logging
import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from dnnfi.workflow import runlog, status

TRACEBACK = """2026-01-01 INFO training
Traceback (most recent call last):
  File "x.py", line 3, in <module>
    raise ValueError("first")
ValueError: first

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "x.py", line 5, in <module>
dnnfi.analysis.taxonomy.TaxonomyError: config key datasets.d.taxonomy: taxonomy 'x': classes in no group: ['6']
"""


def test_failure_lines_name_the_log_and_the_last_error(tmp_path):
    log, other = tmp_path / "a.log", tmp_path / "b.log"
    log.write_text(TRACEBACK)
    other.write_text("no traceback here\n")
    assert runlog.last_error_line(TRACEBACK) == (
        "dnnfi.analysis.taxonomy.TaxonomyError: config key datasets.d.taxonomy: taxonomy 'x': classes in no group: ['6']"
    )
    assert runlog.last_error_line("RuntimeError\n") == "RuntimeError"
    assert runlog.last_error_line("all good\n") is None
    line = f"{log}: dnnfi.analysis.taxonomy.TaxonomyError: config key datasets.d.taxonomy: taxonomy 'x': classes in no group: ['6']"
    assert runlog.failure_lines([log, other, tmp_path / "absent.log", str(log)]) == [line]  # once


def progress_messages(caplog, **kwargs):
    with caplog.at_level(logging.INFO, logger="dnnfi"):
        for _ in runlog.Progress(range(1000), desc="injections", **kwargs):
            pass
    return [r.getMessage() for r in caplog.records]


def test_progress_lines_at_the_start_every_interval_and_at_the_end(caplog):
    first, last = progress_messages(caplog)  # 1000 quick items within the 30 s interval: two lines
    assert first == "progress injections 0/1000 ?/s eta ?"
    assert status.PROGRESS.match(last).group(1, 2, 3, 5) == ("injections", "1000", "1000", "0")
    assert float(status.PROGRESS.match(last).group(4)) > 0
    caplog.clear()
    assert (
        len(progress_messages(caplog, mininterval=0)) == 1001
    )  # every update, and none more at the end


JOB = """
import sys
from dnnfi.workflow import runlog
log = runlog.start(sys.argv[1], "inject_activation", 3)
import os
assert os.environ["DNNFI_THREADS"] == os.environ["OMP_NUM_THREADS"] == "3"
if sys.argv[2] == "fail":
    import no_such_framework  # an import error after the log opened
"""


def run_job(log: Path, outcome: str):
    log.unlink(missing_ok=True)  # Snakemake deletes a job's log before each attempt
    return subprocess.run(
        [sys.executable, "-c", JOB, str(log), outcome], capture_output=True, text=True
    )


def test_a_failed_attempt_keeps_its_log_with_the_import_error(tmp_path):
    log = tmp_path / "shard-0.log"
    failed = run_job(log, "fail")
    assert failed.returncode == 1 and failed.stderr == ""  # everything went to the log
    text = log.read_text()
    cause = "ModuleNotFoundError: No module named 'no_such_framework'"
    assert "Traceback (most recent call last)" in text and f"ERROR failed: {cause}" in text
    assert runlog.failure_lines([log]) == [f"{log}: {cause}"]  # the terminal's Cause line
    host = socket.gethostname()
    assert f"INFO start inject_activation attempt 1 threads 3 host {host} pid " in text
    kept = tmp_path / "shard-0.attempt-1.log"
    assert kept.read_text() == text
    assert run_job(log, "ok").returncode == 0  # the retry: its own log, the first attempt's kept
    assert kept.read_text() == text and " attempt 2 " in log.read_text()
    assert log.read_text().splitlines()[-1].endswith(" INFO done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-0.attempt-1.log", "shard-0.log"]


def write_log(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def start_line(time: str, pid: int, host: str = socket.gethostname(), attempt: int = 1) -> str:
    return f"2026-12-05 {time},120 INFO start inject_activation attempt {attempt} threads 2 host {host} pid {pid}"


def test_status_of_running_stopped_failed_and_finished_jobs(tmp_path):
    logs = tmp_path / "results/logs"
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that is no longer alive
    write_log(
        logs / "inject/act/digits/kseq/shard-0.log",
        [
            start_line("10:00:00", os.getpid()),
            "2026-12-05 10:00:05,000 INFO Python /venv/bin/python",
            "TensorFlow chatter without a timestamp",
            "2026-12-05 10:00:10,000 INFO progress injections 0/5000 ?/s eta ?",
            "2026-12-05 10:00:40,000 INFO progress injections 1200/5000 40/s eta 95",
        ],
    )
    write_log(
        logs / "inject/act/digits/kseq/shard-1.log",
        [  # killed (out of memory) on this host
            start_line("10:00:00", gone.pid, attempt=2),
            "2026-12-05 10:00:40,000 INFO progress injections 300/5000 10/s eta 470",
        ],
    )
    write_log(
        logs / "inject/act/digits/kseq/shard-1.attempt-1.log", [start_line("09:00:00", gone.pid)]
    )
    write_log(
        logs / "train/digits/kseq.log",
        [  # on a cluster node
            start_line("09:00:00", 1, host="node-that-is-not-this-one"),
            "2026-12-05 09:50:00,000 INFO progress epochs 3/10 0.005/s eta 600 loss=0.7612, accuracy=0.8012",
        ],
    )
    write_log(
        logs / "baseline/digits/kseq.log",
        [
            start_line("09:00:00", gone.pid),
            "2026-12-05 09:00:10,000 INFO progress passes 4/4 2.5/s eta 0",
            "2026-12-05 09:00:11,000 INFO peak RSS 812 MB",
            "2026-12-05 09:00:11,000 INFO done",
        ],
    )
    write_log(
        logs / "bounds/kclip/digits/kseq.log",
        [
            start_line("09:00:00", gone.pid),
            "Traceback (most recent call last):",
            "ValueError: config key campaigns.kclip.protection: no layer matches",
            "2026-12-05 09:00:02,000 ERROR failed: ValueError: config key campaigns.kclip.protection: no layer matches",
        ],
    )
    now = datetime(2026, 12, 5, 10, 1, 0)
    found = {job.name: job for job in status.jobs(logs, now)}
    assert sorted(found) == [
        "baseline/digits/kseq",
        "bounds/kclip/digits/kseq",
        "inject/act/digits/kseq/shard-0",
        "inject/act/digits/kseq/shard-1",
        "train/digits/kseq",
    ]
    running = found["inject/act/digits/kseq/shard-0"]
    assert (running.state, running.stage, running.done, running.total, running.rate) == (
        "running",
        "injections",
        1200,
        5000,
        40.0,
    )
    assert running.eta == 75.0  # 95 s at 10:00:40, counted down to 10:01:00
    stopped = found["inject/act/digits/kseq/shard-1"]
    assert (stopped.state, stopped.attempt, stopped.eta) == ("stopped", 2, None)
    train = found["train/digits/kseq"]
    assert (train.state, train.done, train.extra) == ("running", 3, "loss=0.7612, accuracy=0.8012")
    assert train.eta == 0.0  # its last line is older than its ETA
    assert (found["baseline/digits/kseq"].state, found["baseline/digits/kseq"].done) == ("done", 4)
    failed = found["bounds/kclip/digits/kseq"]
    assert (failed.state, failed.cause) == (
        "failed",
        "ValueError: config key campaigns.kclip.protection: no layer matches",
    )
    lines = status.table(list(found.values()), now).splitlines()
    assert lines[0] == "5 jobs: 1 done, 1 failed, 2 running, 1 stopped"
    assert lines[1].split() == ["JOB", "STATE", "ATTEMPT", "PROGRESS", "RATE", "ETA", "UPDATED"]
    row = next(line for line in lines if line.startswith("inject/act/digits/kseq/shard-0 "))
    assert row.split() == [
        "inject/act/digits/kseq/shard-0",
        "running",
        "1",
        "injections",
        "1200/5000",
        "(24%)",
        "40/s",
        "0:01:15",
        "0:00:20",
        "ago",
    ]


def test_status_command_names_a_missing_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dnnfi.workflow.status", str(tmp_path / "results/logs")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr
        == f"dnnfi-status: {tmp_path}/results/logs: no such folder (run it in the study's folder, "
        "or name its results/logs)\n"
    )
