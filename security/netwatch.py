"""Network attempts of a process tree, from an ``strace -f`` log: what left loopback, and who.

Run a command under :func:`strace_argv`, then :func:`parse` the log and keep the
:func:`outbound` attempts: an IPv4/IPv6 ``connect``/``sendto``/``sendmsg`` to anything but
127.0.0.0/8 or ::1, any DNS query (port 53, even to a loopback stub resolver: a name lookup is
an attempt to reach a name), and a query handed to a running resolver daemon over a Unix socket
(nscd, systemd-resolved, avahi). Unix sockets otherwise and netlink are local and allowed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

SYSCALLS = "connect,sendto,sendmsg,sendmmsg,execve,clone,clone3,fork,vfork"
RESOLVER_SOCKETS = ("nscd", "systemd/resolve", "avahi")

_HEAD = re.compile(r"^(?P<pid>\d+)\s+(?:<\.\.\. (?P<resumed>\w+) resumed>|(?P<call>\w+)\()")
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(
    r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"'
)
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=@?"([^"]*)"')
_EXECVE = re.compile(r'execve\("([^"]*)", \[(.*?)\]')
_RESULT = re.compile(r"\)\s+=\s+(-?\d+.*)$")
_NET_CALLS = {"connect", "sendto", "sendmsg", "sendmmsg"}


def strace_argv(log: Path, strace: str = "strace") -> list[str]:
    """The strace prefix that records every process's network calls and commands in ``log``."""
    return [strace, "-f", "-qq", "--seccomp-bpf", "-e", f"trace={SYSCALLS}", "-s", "200"] + [
        "-o",
        str(log),
    ]


@dataclass(frozen=True)
class Attempt:
    pid: int
    syscall: str
    family: str
    address: str
    port: int | None
    result: str
    command: str

    @property
    def outbound(self) -> bool:
        if self.family == "AF_UNIX":
            return any(s in self.address for s in RESOLVER_SOCKETS) and self.result.startswith("0")
        if self.port == 53:
            return True
        ip = ipaddress.ip_address(self.address)
        mapped = getattr(ip, "ipv4_mapped", None)
        return not (ip.is_loopback or (mapped is not None and mapped.is_loopback))

    def __str__(self) -> str:
        where = f"{self.address}:{self.port}" if self.port is not None else self.address
        return (
            f"pid {self.pid} ({self.command}): {self.syscall} {self.family} {where} "
            f"= {self.result or '?'}"
        )


def _command(argv: str) -> str:
    args = re.findall(r'"((?:[^"\\]|\\.)*)"', argv)
    return " ".join(a.rsplit("/", 1)[-1] if i == 0 else a for i, a in enumerate(args[:4]))


def parse(log: str) -> list[Attempt]:
    """Every network attempt with an address in the log, each with its process's command."""
    commands: dict[int, str] = {}
    parents: dict[int, int] = {}
    raw: list[tuple[int, str, str, str, int | None, str]] = []
    for line in log.splitlines():
        head = _HEAD.match(line)
        if head is None:
            continue
        pid = int(head["pid"])
        call = head["call"] or head["resumed"]
        result = _RESULT.search(line)
        result_text = result[1] if result else ""
        if call == "execve" and head["call"]:
            found = _EXECVE.search(line)
            if found and not result_text.startswith("-1"):
                commands[pid] = _command(found[2]) or found[1]
        elif call in {"clone", "clone3", "fork", "vfork"} and result_text[:1].isdigit():
            parents[int(result_text.split()[0])] = pid
        elif call in _NET_CALLS:
            for family, pattern in (("AF_INET", _INET), ("AF_INET6", _INET6)):
                for port, address in pattern.findall(line):
                    raw.append((pid, call, family, address, int(port), result_text))
            for path in _UNIX.findall(line):
                raw.append((pid, call, "AF_UNIX", path, None, result_text))

    def command_of(pid: int) -> str:
        seen = set()
        while pid not in commands and pid in parents and pid not in seen:
            seen.add(pid)
            pid = parents[pid]
        return commands.get(pid, "?")

    return [Attempt(p, c, f, a, port, r, command_of(p)) for p, c, f, a, port, r in raw]


def outbound(attempts: list[Attempt]) -> list[Attempt]:
    """The attempts that leave loopback or look a name up."""
    return [a for a in attempts if a.outbound]


def report(attempts: list[Attempt]) -> str:
    return "\n".join(f"  {a}" for a in attempts)
