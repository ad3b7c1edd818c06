"""The dead-peer deadline on the wire, from Python: two network namespaces
joined by a veth pair (tests/support/netlab.py), the peer's host cut off with
nftables, and the death measured. Needs root and `ip netns`; skips saying why
otherwise, and with CI=true a missing lab fails instead.

One lab holds four connections cut off at the same moment:

- idle, set_deadline(5): ETIMEDOUT 5 s +- (2% + 0.15 s) after the peer's last
  ACK, and status()'s prediction (now + dead_in) within 0.3 s of the actual
  death on every sample taken every 0.5 s while the peer is silent;
- the trap, 2/1/3 with a 3500 ms user timeout: dead near 4 s, not 5 s, as
  Settings.dead_after_ms said before it happened;
- busy (writing all along), set_deadline(5): the error within 5 + 1 s of
  the cut, and status()'s prediction within 0.3 s on every sample after it;
- busy with plain keepalive 2/1/3 and no user timeout: still not declared
  dead 3 x 5 s after the cut (the kernel retransmits for ~15 minutes).
"""

from __future__ import annotations

import errno
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
from support.netlab import Lab  # type: ignore[import-not-found]  # (conftest.py)

PEER = str(HERE / "deadline_peer.py")
D = 5
pytestmark = pytest.mark.usefixtures("needs_netns")


def tolerance(seconds: float) -> float:
    return seconds * 0.02 + 0.15


def start_server(lab: Any, *args: str) -> tuple[Any, int]:
    srv = lab.start("server", [sys.executable, PEER, "server", "0", *args], name="server")
    m, _ = srv.expect(r"^listening \S+ (\d+)$")
    return srv, int(m.group(1))


def start_client(lab: Any, name: str, port: int, *args: str) -> tuple[Any, list[int]]:
    cli = lab.start(
        "client", [sys.executable, PEER, "client", lab.server_ip, str(port), *args], name=name
    )
    m, _ = cli.expect(r"^settings \S+ (.*)$")
    cli.expect(r"^connected ")
    fields = [int(v) if v != "None" else -1 for v in m.group(1).split()]
    return cli, fields


def death(proc: Any, timeout: float) -> tuple[float, int, int]:
    """(monotonic time, errno, ms since the last ACK) of the dead line."""
    m, _ = proc.expect(r"^dead (\S+) (\d+) (\d+)$", timeout=timeout)
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def report(text: str) -> None:
    print(f"    {text}", file=sys.stderr, flush=True)


def test_idle_busy_the_trap_and_status_on_one_cut() -> None:
    with Lab() as lab:
        ports = [start_server(lab)[1] for _ in range(4)]
        idle, s_idle = start_client(lab, "idle", ports[0], "--deadline", str(D), "--sample", "0.5")
        trap, s_trap = start_client(
            lab, "trap", ports[1], "--knobs", "2,1,3", "--user-timeout", "3500"
        )
        busy, s_busy = start_client(
            lab, "busy", ports[2], "--deadline", str(D), "--busy", "--sample", "0.5"
        )
        plain, s_plain = start_client(lab, "plain", ports[3], "--knobs", "2,1,3", "--busy")
        # What the library said before anything happened.
        assert s_idle == [1, 2, 1, 3, 5000, 5000, 5000]
        assert s_trap[:5] == [1, 2, 1, 3, 3500]
        assert s_trap[5] == 4000, "dead_after_ms must say 4 s: the user timeout replaces count"
        assert s_busy[:5] == [1, 2, 1, 3, 5000]
        assert s_plain == [1, 2, 1, 3, 0, 5000, -1]
        time.sleep(0.5)
        how = lab.cut("server")
        cut = time.monotonic()
        report(f"server host cut off: {how}")

        t_idle, e_idle, ack_idle = death(idle, D + 10)
        assert e_idle == errno.ETIMEDOUT
        report(f"idle, deadline {D} s: ETIMEDOUT {ack_idle / 1000:.3f} s after the last ACK")
        assert abs(ack_idle / 1000 - D) <= tolerance(D)

        t_trap, e_trap, ack_trap = death(trap, 10)
        assert e_trap == errno.ETIMEDOUT
        report(f"2/1/3 + 3500 ms user timeout: dead {ack_trap / 1000:.3f} s after the last ACK")
        assert abs(ack_trap / 1000 - 4.0) <= tolerance(4.0)

        t_busy, e_busy, _ = death(busy, D + 10)
        assert e_busy in (errno.ETIMEDOUT, errno.EHOSTUNREACH)
        report(f"busy, deadline {D} s: {errno.errorcode[e_busy]} {t_busy - cut:.3f} s after the cut")
        assert t_busy - cut <= D + 1

        # Every sample taken while the peer was silent predicted the death,
        # idle (keepalive's rule) and busy (the retransmission timer's).
        for proc, died, what in ((idle, t_idle, "idle"), (busy, t_busy, "busy")):
            proc.drain()
            samples = [
                (float(m.group(1)), int(m.group(2)))
                for _, line in proc.lines
                if (m := re.match(r"^sample (\S+) \S+ \d+ (\d+)$", line))
            ]
            silent = [(t, ms) for t, ms in samples if t >= cut]
            assert len(silent) >= 8, samples
            worst = max(abs(t + ms / 1000 - died) for t, ms in silent)
            report(
                f"status(), {what}: {len(silent)} samples after the cut, "
                f"worst prediction error {worst:.3f} s"
            )
            assert worst <= 0.3, (what, silent, died)

        # Plain keepalive on a busy connection: still alive three deadlines on.
        left = cut + 3 * D - time.monotonic()
        if left > 0:
            time.sleep(left)
        plain.drain()
        assert not [line for _, line in plain.lines if line.startswith("dead ")], plain.transcript()
        assert plain.popen.poll() is None
        report(f"busy, plain 2/1/3 without a user timeout: still not dead {3 * D} s after the cut")


def test_a_listener_with_a_deadline_reports_a_cut_off_client() -> None:
    with Lab() as lab:
        srv, port = start_server(lab, "--deadline", str(D))
        cli = lab.start(
            "client", [sys.executable, "-c", CLIENT_THAT_WAITS, lab.server_ip, str(port)],
            name="client",
        )  # fmt: skip
        cli.expect("connected")
        m, _ = srv.expect(r"^settings \S+ (.*)$")
        # The accepted connection inherited all four from the listener.
        assert m.group(1).split()[:5] == ["1", "2", "1", "3", "5000"]
        time.sleep(0.5)
        report(f"client host cut off: {lab.cut('client')}")
        _, err, ack = death(srv, D + 10)
        assert err == errno.ETIMEDOUT
        report(f"server: accepted client dead {ack / 1000:.3f} s after its last ACK")
        assert abs(ack / 1000 - D) <= tolerance(D)


# A client with no keepalive of its own: connects and waits.
CLIENT_THAT_WAITS = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print("connected", flush=True)
time.sleep(600)
"""
