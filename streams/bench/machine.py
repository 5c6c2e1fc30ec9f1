"""What the benchmark ran on: figures without the machine are not comparable."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_model(cpuinfo: str) -> str:
    """The first ``model name`` of a /proc/cpuinfo text.

    >>> _cpu_model("processor\\t: 0\\nmodel name\\t: AMD EPYC\\n")
    'AMD EPYC'
    >>> _cpu_model("")
    'unknown'
    """
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return "unknown"


def _mem_total_mib(meminfo: str) -> int | None:
    """MemTotal of a /proc/meminfo text, in MiB.

    >>> _mem_total_mib("MemTotal:       24683532 kB\\nMemFree: 1 kB\\n")
    24105
    """
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def machine_info() -> dict[str, object]:
    """CPU count and model, memory, Python and OS, and the load when the bench started."""
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(_read("/proc/cpuinfo")),
        "memory_mib": _mem_total_mib(_read("/proc/meminfo")),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_at_start": load,
    }
