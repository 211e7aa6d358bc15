"""A benchmark process's own memory, from /proc (Linux)."""


def memory_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MB; ``VmHWM`` starts afresh in a
    spawned process, unlike ``ru_maxrss``, which keeps the forking parent's peak."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024
