"""Which int8 kernels this CPU runs best: the quantization preset follows the instruction set."""

from __future__ import annotations

import platform
from pathlib import Path

PRESETS = ("avx512_vnni", "avx512", "avx2", "arm64")


def cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "asimd", "sve")


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo ("AMD EPYC ..."), else the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_description() -> str:
    """What a timing depends on: the CPU, its cores and the vector flags inference uses."""
    import os

    flags = [f for f in SPEED_FLAGS if f in cpu_flags()]
    return f"{cpu_model()}, {os.cpu_count()} cores, flags {' '.join(flags) or 'none of ' + ' '.join(SPEED_FLAGS[:4])}"


def quantization_preset(flags: set[str] | None = None, machine: str | None = None) -> str:
    """avx512_vnni > avx512 > avx2 on x86; arm64 on ARM. Falls back to avx2, the most common x86 level."""
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return "arm64"
    flags = cpu_flags() if flags is None else flags
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"
