"""The dead-peer deadline in every state a connection can be in, measured on
the wire: two network namespaces joined by a veth pair (tests/support/netlab.py),
the peer's host cut off with nftables, each state's death timed from the
peer's last ACK (or data). Needs root and `ip netns`; skips saying why
otherwise, and with CI=true a missing lab fails instead.

Each test prints its figures ("state: ..."); docs/deadline.md's table is
made of them. Under set_deadline(D) (D = 5 s unless said):

- idle, then probing: dead D after the peer was last heard;
- busy from the start (writing all along): dead within D + 1 s of it;
- a write after a silence of 0.3 D and 0.9 D: Linux counts the user timeout
  from the first retransmission, one RTO after the write, so dead about
  W + D + RTO after the peer was last heard (up to 2 D); status() right
  after the write predicts that moment within 0.5 s;
- half-closed (the peer shut its side, CLOSE_WAIT) with data still to
  send: as busy;
- closing (FIN_WAIT1, LAST_ACK) with the peer gone: the FIN is data in
  flight: dead about C + D + RTO after the peer was last heard, C the
  silence when the program closed;
- connecting (a SYN to a cut host): connect() fails within D + 1 s;
- zero window (the peer alive and answering, not reading), D = 3 s: Linux
  aborts it D after the first window probe; status().phase is
  "zero-window" and dead_in predicts the abort within 1 s on every sample.
  The same reader with keepalive 2/1/3 and no user timeout is still
  connected three deadlines later (RFC 1122: probes answered, never
  aborted).
"""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
from support.netlab import Lab  # type: ignore[import-not-found]  # (conftest.py)

PEER = str(HERE / "state_peer.py")
D = 5
pytestmark = pytest.mark.usefixtures("needs_netns")

DEAD = (errno.ETIMEDOUT, errno.EHOSTUNREACH)


def tolerance(seconds: float) -> float:
    """The namespace tests' bound on a keepalive death: 2% of it + 0.15 s."""
    return seconds * 0.02 + 0.15


def report(text: str) -> None:
    print(f"    state: {text}", file=sys.stderr, flush=True)


def server(lab: Any, port: int, *args: str) -> Any:
    srv = lab.start("server", [sys.executable, PEER, "server", str(port), *args],
                    name=f"server-{port}")  # fmt: skip
    srv.expect(r"^listening ")
    return srv


def client(lab: Any, name: str, port: int, *args: str, connected: bool = True) -> Any:
    cli = lab.start(
        "client", [sys.executable, PEER, "client", lab.server_ip, str(port), *args], name=name
    )
    if connected:
        cli.expect(r"^connected ")
    return cli


def death(proc: Any, timeout: float) -> tuple[float, int, float | None]:
    """(monotonic time, errno, seconds since the peer was last heard) of the end."""
    m, _ = proc.expect(r"^dead (\S+) (\d+) (\S+)$", timeout=timeout)
    silent = None if m.group(3) == "-" else int(m.group(3)) / 1000
    return float(m.group(1)), int(m.group(2)), silent


def samples(proc: Any) -> list[tuple[float, str, int | None]]:
    """(time, phase, dead_in_ms) of every status() sample so far."""
    proc.drain()
    found = []
    for _, line in proc.lines:
        fields = line.split()
        if fields[0] == "sample":
            dead_in = None if fields[4] == "None" else int(fields[4])
            found.append((float(fields[1]), fields[2], dead_in))
    return found


def test_every_state_but_zero_window_on_one_cut() -> None:
    with Lab() as lab:
        d = str(D)
        rows = {
            "idle": (5101, [], ["--deadline", d, "--sample", "0.5"]),
            "busy from the start": (5102, [], ["--deadline", d, "--busy"]),
            "write after 0.3 D": (5103, [], ["--deadline", d, "--write-after", str(0.3 * D)]),
            "write after 0.9 D": (5104, [], ["--deadline", d, "--write-after", str(0.9 * D)]),
            "half-closed, data to send": (5105, ["--half-close"], ["--deadline", d, "--busy"]),
            "closing, FIN_WAIT1": (5106, [], ["--deadline", d, "--close-after", "1"]),
            "closing, LAST_ACK": (5107, ["--half-close"], ["--deadline", d, "--close-after", "1"]),
        }
        procs = {}
        for name, (port, server_args, client_args) in rows.items():
            server(lab, port, *server_args)
            procs[name] = client(lab, name, port, *client_args)
        procs["half-closed, data to send"].expect(r"^eof ")
        procs["closing, LAST_ACK"].expect(r"^eof ")
        time.sleep(0.5)
        report(f"server host cut off: {lab.cut('server')}")
        cut = time.monotonic()
        connecting = client(lab, "connecting", 5108, "--deadline", d, connected=False)
        m, _ = connecting.expect(r"^connecting (\S+)$")
        connect_started = float(m.group(1))

        # Idle, then probing: keepalive's rule, D after the peer was last heard.
        idle = procs["idle"]
        t_idle, e_idle, s_idle = death(idle, D + 10)
        assert e_idle == errno.ETIMEDOUT and s_idle is not None
        phases = [phase for t, phase, _ in samples(idle) if t >= cut]
        report(f"idle, then probing ({' -> '.join(dict.fromkeys(phases))}): ETIMEDOUT "
               f"{s_idle:.3f} s after the peer was last heard")  # fmt: skip
        assert abs(s_idle - D) <= tolerance(D)
        assert "probing" in phases

        busy = procs["busy from the start"]
        _, e_busy, s_busy = death(busy, D + 10)
        assert e_busy in DEAD and s_busy is not None
        report(f"busy from the start: {errno.errorcode[e_busy]} {s_busy:.3f} s after the peer "
               "was last heard")  # fmt: skip
        assert D - tolerance(D) <= s_busy <= D + 1

        for name, w in (("write after 0.3 D", 0.3 * D), ("write after 0.9 D", 0.9 * D)):
            proc = procs[name]
            m, _ = proc.expect(r"^wrote (\S+) (\d+)$", timeout=D + 5)
            wrote = float(m.group(1))
            t_dead, e_dead, s_dead = death(proc, 2 * D + 10)
            assert e_dead in DEAD and s_dead is not None
            right_after = [(t, dead_in) for t, _, dead_in in samples(proc) if t >= wrote][0]
            predicted = right_after[0] + (right_after[1] or 0) / 1000
            report(f"{name} (written {int(m.group(2)) / 1000:.3f} s after the peer was last "
                   f"heard): {errno.errorcode[e_dead]} {s_dead:.3f} s after it "
                   f"({t_dead - wrote:.3f} s after the write); status() right after the write "
                   f"predicted it {predicted - t_dead:+.3f} s off")  # fmt: skip
            # Linux: D from the first retransmission, one RTO after the write.
            assert w + D - 0.2 <= s_dead <= w + D + 1
            assert abs(predicted - t_dead) <= 0.5, proc.transcript()

        half = procs["half-closed, data to send"]
        _, e_half, s_half = death(half, D + 10)
        assert e_half in DEAD and s_half is not None
        report(f"half-closed (CLOSE_WAIT), data to send: {errno.errorcode[e_half]} "
               f"{s_half:.3f} s after the peer was last heard")  # fmt: skip
        assert D - tolerance(D) <= s_half <= D + 1

        for name in ("closing, FIN_WAIT1", "closing, LAST_ACK"):
            proc = procs[name]
            m, _ = proc.expect(r"^closed (\S+) (\d+)$", timeout=D + 5)
            c = int(m.group(2)) / 1000
            _, e_close, s_close = death(proc, 2 * D + 10)
            assert e_close in DEAD and s_close is not None
            report(f"{name} (FIN sent {c:.3f} s after the peer was last heard): "
                   f"{errno.errorcode[e_close]} {s_close:.3f} s after it")  # fmt: skip
            assert c + D - 0.2 <= s_close <= c + D + 1

        t_conn, e_conn, _ = death(connecting, D + 10)
        assert e_conn in DEAD
        report(f"connecting (SYN to a cut host): {errno.errorcode[e_conn]} "
               f"{t_conn - connect_started:.3f} s after connect() began")  # fmt: skip
        assert t_conn - connect_started <= D + 1


def test_zero_window_is_seen_and_its_abort_predicted() -> None:
    zw = 3
    with Lab() as lab:
        server(lab, 5111, "--no-read")
        server(lab, 5112, "--no-read")
        proc = client(lab, "zero window", 5111, "--deadline", str(zw), "--busy",
                      "--sample", "0.25")  # fmt: skip
        spared = client(lab, "zero window, no user timeout", 5112, "--knobs", "2,1,3", "--busy",
                        "--sample", "0.5")  # fmt: skip
        start = time.monotonic()
        t_dead, e_dead, s_dead = death(proc, 30)
        assert e_dead == errno.ETIMEDOUT and s_dead is not None
        seen = [(t, dead_in) for t, phase, dead_in in samples(proc) if phase == "zero-window"]
        assert len(seen) >= 4, samples(proc)
        errors = [abs(t + (dead_in or 0) / 1000 - t_dead) for t, dead_in in seen]
        first = seen[0][0]
        report(f"zero window, set_deadline({zw}), the peer alive and answering every probe: "
               f"ETIMEDOUT {t_dead - first:.3f} s after the phase was first seen, the peer last "
               f"heard {s_dead:.3f} s before; {len(seen)} samples said zero-window, worst "
               f"prediction error {max(errors):.3f} s")  # fmt: skip
        assert max(errors) <= 1.0
        # Aborted while it answered: heard from well within the deadline.
        assert s_dead < zw
        # Every sample from the first zero-window one to the death says so.
        later = [phase for t, phase, _ in samples(proc) if t >= first]
        assert set(later) == {"zero-window"}, later

        # Without a user timeout: never aborted while the probes are answered.
        left = start + 3 * zw - time.monotonic()
        if left > 0:
            time.sleep(left)  # the property is "nothing happens for 3 x D"
        spared.drain()
        assert spared.popen.poll() is None, spared.transcript()
        assert not [line for _, line in spared.lines if line.startswith("dead ")]
        last = samples(spared)[-1]
        report(f"zero window, keepalive 2/1/3 without a user timeout: still connected "
               f"{time.monotonic() - start:.3f} s on, phase {last[1]}, dead_in "
               f"{(last[2] or 0) / 1000:.1f} s if the probes went unanswered")  # fmt: skip
        assert last[1] == "zero-window"
