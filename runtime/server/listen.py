"""Where ``ncd-run serve`` listens, checked before anything starts: ``--host``/``--port`` that cannot be used, and a
server reachable beyond this machine without tokens, are refused with one line (exit 2), never a traceback.

The socket is bound here and handed to uvicorn, so the address that was checked is the one that serves."""

from __future__ import annotations

import ipaddress
import socket


class ListenError(ValueError):
    """A listening address that cannot be used; the message names the flag."""


def resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    """(address family, socket address) of every address ``host`` names; ListenError when it names none."""
    if not 0 <= port <= 65535:
        raise ListenError(f"--port {port}: not a TCP port (0-65535)")
    if not host or not host.isprintable() or len(host) > 253:
        raise ListenError(f"--host {host!r}: not a host name or address")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        raise ListenError(f"--host {host}: cannot be resolved ({reason})") from None
    return [(family, address) for family, _, _, _, address in infos]


def is_loopback(addresses: list[tuple[int, tuple]]) -> bool:
    """Every address is a loopback one (127.0.0.0/8, ::1): nothing beyond this machine can connect."""
    try:
        return bool(addresses) and all(ipaddress.ip_address(a[0].split("%")[0]).is_loopback for _, a in addresses)
    except ValueError:
        return False


def listener(host: str, addresses: list[tuple[int, tuple]]) -> socket.socket:
    """A bound, listening socket on the first address of ``host`` that can be bound."""
    problem: OSError | None = None
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.set_inheritable(True)
            return sock
        except OSError as exc:
            sock.close()
            problem = exc
    reason = problem.strerror if problem is not None and problem.strerror else str(problem)
    port = addresses[0][1][1] if addresses else "?"
    raise ListenError(f"--host {host} --port {port}: cannot listen there ({reason})")
