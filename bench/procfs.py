"""Memory figures from Linux's /proc, in MiB (standard library only: the run-cost probe
imports it before the work it measures)."""

from __future__ import annotations


def proc_mib(field: str, path: str = "/proc/self/status") -> float:
    """A `Field:  N kB` line of a /proc file in MiB, 0.0 where the field is absent.

    /proc/self/status: VmHWM is this process's own peak (ru_maxrss can report the
    parent's after fork+exec), VmRSS its resident set now; /proc/meminfo: MemAvailable."""
    with open(path) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0
