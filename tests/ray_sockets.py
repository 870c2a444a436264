"""Which addresses a process tree listens on, read from /proc (Linux): for the tests of a Ray that seldb starts.

A process's sockets are the `socket:[INODE]` links in /proc/PID/fd; /proc/net/tcp, tcp6, udp and udp6 give
each inode's local address (in the reader's network namespace). A TCP socket listens in state 0A; a UDP
socket is bound and unconnected when its remote address is all zeros. The tree is the root process, its
descendants, and any process whose command line names a Ray session directory of one of them (Ray
names a session after the pid of the process that started it), so a service that left the tree still counts.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket

SESSION = re.compile(r"session_[0-9_-]+_(\d+)(?:/|\b)")


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process visible now."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry)] = (parent, command)
    return found


def tree(root: int) -> dict[int, str]:
    """pid -> command line of `root`, its descendants, and the processes of their Ray sessions."""
    processes = _processes()
    members = {root}
    changed = True
    while changed:
        changed = False
        for pid, (parent, command) in processes.items():
            if pid in members:
                continue
            session = SESSION.search(command)
            if parent in members or (session and int(session.group(1)) in members):
                members.add(pid)
                changed = True
    return {pid: processes[pid][1] for pid in members if pid in processes}


def _inodes(pids) -> dict[str, int]:
    found = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                found[link[8:-1]] = pid
    return found


def _address(hex_address: str, family: int) -> str:
    raw = bytes.fromhex(hex_address)
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # /proc prints 32-bit words host-endian
    return socket.inet_ntop(family, raw)


def _sockets(pids):
    """(protocol, family, local, remote, state, pid) of every TCP and UDP socket of `pids` (hex, as in /proc)."""
    inodes = _inodes(pids)
    for proto, family in (
        ("tcp", socket.AF_INET),
        ("tcp6", socket.AF_INET6),
        ("udp", socket.AF_INET),
        ("udp6", socket.AF_INET6),
    ):
        try:
            with open(f"/proc/net/{proto}") as table:
                lines = table.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in inodes:
                yield proto, family, local, remote, state, inodes[inode]


def listening(pids) -> list[tuple[str, str, int, int]]:
    """(protocol, local address, port, pid) of every listening TCP or bound unconnected UDP socket of `pids`."""
    found = []
    for proto, family, local, remote, state, pid in _sockets(pids):
        if proto.startswith("tcp") and state != "0A":
            continue
        if proto.startswith("udp") and set(remote.split(":")[0]) != {"0"}:
            continue
        hex_ip, hex_port = local.split(":")
        found.append((proto, _address(hex_ip, family), int(hex_port, 16), pid))
    return found


def connected(pids) -> list[tuple[str, str, str, int, int]]:
    """(protocol, local address, remote address, remote port, pid) of every TCP or UDP socket of `pids`
    that has a peer (connected, connecting, or closing), whichever side opened it."""
    found = []
    for proto, family, local, remote, state, pid in _sockets(pids):
        hex_ip, hex_port = remote.split(":")
        if state == "0A" or int(hex_port, 16) == 0:  # listening, or no peer
            continue
        found.append((proto, _address(local.split(":")[0], family), _address(hex_ip, family), int(hex_port, 16), pid))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
