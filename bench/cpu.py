"""CPU time of processes, read from ``/proc/<pid>/stat`` (utime + stime), before and after.

A benchmark phase takes a :class:`CpuSample` of every process that matters (the workers, the
stand-in, RabbitMQ, the benchmark itself) before and after; the difference divided by the
messages of the phase is the CPU per message of each. Each sample also reads the whole
machine's busy time from ``/proc/stat``: whether the cores were saturated during the phase
(by what is measured or by anything else on this shared machine) decides what its throughput
and latency can say.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# process groups: the processes under test, the stand-in, RabbitMQ, the benchmark itself
SUBJECT, STANDIN, RABBITMQ, BENCH = "subject", "standin", "rabbitmq", "bench"
POSTGRES = "postgres"  # the PostgreSQL server's processes, when the store is PostgreSQL
LOOP = "loop thread"  # the main (event-loop) threads of the SUBJECT processes
MACHINE = "machine"  # every core's busy time, whatever ran on it


def parse_stat(stat: str) -> float:
    """utime + stime, in seconds, of one ``/proc/<pid>/stat`` line."""
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def parse_machine_stat(text: str) -> float:
    """Busy seconds of all cores together, from ``/proc/stat``'s first (``cpu``) line: user,
    nice, system, irq, softirq and steal (time the hypervisor gave to someone else)."""
    name, *ticks = text.split("\n", 1)[0].split()
    if name != "cpu" or len(ticks) < 8:
        raise ValueError("not a /proc/stat text")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(t) for t in ticks[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS_PER_S


def machine_busy_seconds() -> float:
    """Busy seconds of all cores since boot (see :func:`parse_machine_stat`)."""
    return parse_machine_stat(Path("/proc/stat").read_text())


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds ``pid`` has used so far; None when it is gone."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def loop_thread_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of ``pid``'s main thread (the event loop's), None when it is gone."""
    try:
        return parse_stat(Path(f"/proc/{pid}/task/{pid}/stat").read_text())
    except OSError:
        return None


def rabbitmq_pid() -> int | None:
    """The pid of RabbitMQ's Erlang VM (``beam.smp``) on this machine, None if not found."""
    pids = _pgrep("-f", "beam.smp")
    return pids[0] if pids else None


def postgres_pids() -> list[int]:
    """Every process of the PostgreSQL server on this machine (postmaster and backends)."""
    return _pgrep("-x", "postgres")


def _pgrep(*args: str) -> list[int]:
    try:
        out = subprocess.run(["pgrep", *args], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(p) for p in out.split()]


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds per named group of processes at one moment."""

    seconds: Mapping[str, float]

    @classmethod
    def take(cls, groups: Mapping[str, list[int]]) -> CpuSample:
        """Sum the CPU seconds of each group's live processes; LOOP: the SUBJECT's main threads;
        MACHINE: every core's busy time.

        The threads are read before the processes, so a thread shows no more than its process
        but for rounding: the kernel truncates each one's utime and stime to clock ticks apart.
        """
        loop = sum(loop_thread_cpu_seconds(p) or 0.0 for p in groups.get(SUBJECT, []))
        seconds = {name: sum(cpu_seconds(p) or 0.0 for p in pids) for name, pids in groups.items()}
        return cls({**seconds, LOOP: loop, MACHINE: machine_busy_seconds()})

    def since(self, earlier: CpuSample) -> dict[str, float]:
        """CPU seconds used by each group between ``earlier`` and this sample."""
        return {name: s - earlier.seconds.get(name, 0.0) for name, s in self.seconds.items()}
