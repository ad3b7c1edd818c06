"""Through a NAT router that forgets idle flows (issue 19), on real packets.

A client namespace, a router namespace (nftables: masquerade, stateful
filter, nf_conntrack_tcp_timeout_established short, loose pickup off) and a
server namespace running the C echo server (natlab.NatLab). Without
keepalive, a connection silent longer than the router's timeout is forgotten:
its next request is never answered (or reset, in the reset variant). With
max_idle, through keepalive-run (the preload library) or `keepalive set` on
the running client (pidfd), it is kept. `keepalive measure` finds the
router's timeout within 20 %. Needs root, `ip netns` and nft; skips saying
why otherwise (CI=true turns a skip into a failure). The usage checks of
`keepalive measure` run anywhere, on loopback.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

from support import built
from support.built import program
from support.examples import SERVER
from support.natlab import NatLab, why_no_natlab
from support.report import report
from support.skips import needs

HERE = os.path.dirname(os.path.abspath(__file__))
NO_LAB = why_no_natlab()

IDLE_CLIENT = [sys.executable, os.path.join(HERE, "idle_client.py")]
# The router forgets a flow silent ROUTER s; the client stays silent SILENCE s.
ROUTER, SILENCE = 6, 10
# The deadline the kept clients ask for, with the router's timeout as max_idle.
DEADLINE = 30


def keepalive():
    return program("keepalive")


def start_server(lab):
    srv = lab.start("server", [program(SERVER), "-d", "600", "0"])
    m, _ = srv.expect(r"listening on port (\d+)")
    return srv, int(m.group(1))


def raw_keepalive(pid, fd):
    """A socket's keepalive as the kernel has it, read by the tool from the
    process's own socket (`keepalive show --json`): (on, idle, interval,
    count, user_timeout_ms)."""
    rows = json.loads(subprocess.run([keepalive(), "show", str(pid), "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    row = next(r for r in rows if r["fd"] == fd)
    return (row["enabled"], row["idle"], row["interval"], row["count"], row["user_timeout_ms"])


@needs(NO_LAB)
class ForgottenOrKept(unittest.TestCase):
    """The router forgets a flow silent 6 s; the client is silent 10 s."""

    def idle_client(self, lab, port, wrapper=(), options=()):
        cli = lab.start("client", [*wrapper, *IDLE_CLIENT, f"{lab.server_ip}:{port}",
                                   str(SILENCE), *options])
        m, _ = cli.expect(r"connected fd (\d+)")
        cli.expect(r"^ready$")
        return cli, int(m.group(1))

    def assert_kept(self, cli, lab, msg=None):
        """The client's request after its silence was answered, and the
        router forgot nothing of the flow."""
        cli.expect(r"answered after", timeout=SILENCE + 10)
        self.assertEqual(cli.wait(), 0)
        self.assertEqual(lab.forgotten(), 0, msg)

    def test_without_keepalive_a_silent_connection_is_forgotten(self):
        with NatLab(timeout=ROUTER) as lab:
            _, port = start_server(lab)
            cli, _ = self.idle_client(lab, port)
            cli.expect(r"no answer within", timeout=SILENCE + 10)
            self.assertEqual(cli.wait(), 1)
            self.assertGreater(lab.forgotten(), 0, "the router dropped the forgotten flow's packets")
            report(f"router {ROUTER} s, silent {SILENCE} s, no keepalive: request never answered, "
                   f"{lab.forgotten()} packets dropped")

    def test_max_idle_through_keepalive_run_keeps_it(self):
        with NatLab(timeout=ROUTER) as lab:
            _, port = start_server(lab)
            run = [program("keepalive-run"), "-D", str(DEADLINE), "--max-idle", str(ROUTER), "--"]
            cli, fd = self.idle_client(lab, port, run)
            on, idle, interval, count, ut = raw_keepalive(cli.popen.pid, fd)
            self.assertEqual((on, ut), (True, DEADLINE * 1000))
            self.assertEqual(idle + interval * count, DEADLINE, "the deadline still holds")
            report(f"-D {DEADLINE} --max-idle {ROUTER}: {idle}/{interval}/{count}")
            self.assert_kept(cli, lab, "nothing of the flow was forgotten")

    def test_max_idle_through_the_c_library_keeps_it(self):
        lib = os.path.join(os.path.dirname(built.BIN), "lib", "libkeepalive.so")
        with NatLab(timeout=ROUTER) as lab:
            _, port = start_server(lab)
            cli, _ = self.idle_client(lab, port, (), ["--lib", lib, "-D", str(DEADLINE),
                                                      "--max-idle", str(ROUTER)])
            # Printed before `connected`, which idle_client waited for.
            said = next(line for _, line in cli.lines if "keepalive_set_deadline_ex" in line)
            m = re.search(r"idle (\d+) s, interval (\d+) s, count (\d+)", said)
            idle, interval, count = map(int, m.groups())
            self.assertEqual(idle + interval * count, DEADLINE)
            self.assert_kept(cli, lab)

    def test_keepalive_set_max_idle_on_a_running_client_keeps_it(self):
        with NatLab(timeout=ROUTER) as lab:
            _, port = start_server(lab)
            cli, fd = self.idle_client(lab, port)
            pid = cli.popen.pid
            # Listed as one a 6 s middlebox would forget: keepalive is off.
            show = [keepalive(), "show", str(pid), "--max-idle", str(ROUTER), "--json"]
            before = json.loads(subprocess.run(show, capture_output=True, text=True,
                                               check=True).stdout)
            self.assertEqual([r["fd"] for r in before], [fd])
            done = subprocess.run([keepalive(), "set", str(pid), "--fd", str(fd), "-D",
                                   str(DEADLINE), "--max-idle", str(ROUTER)],
                                  capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            on, idle, interval, count, ut = raw_keepalive(pid, fd)
            self.assertEqual((on, idle + interval * count, ut), (True, DEADLINE, DEADLINE * 1000))
            after = json.loads(subprocess.run(show, capture_output=True, text=True,
                                              check=True).stdout)
            self.assertEqual(after, [], "no longer one the middlebox would forget")
            self.assert_kept(cli, lab)

    def test_a_max_idle_the_deadline_cannot_keep_is_refused_and_changes_nothing(self):
        with NatLab(timeout=ROUTER) as lab:
            _, port = start_server(lab)
            cli, fd = self.idle_client(lab, port)
            before = raw_keepalive(cli.popen.pid, fd)
            done = subprocess.run([keepalive(), "set", str(cli.popen.pid), "-D", "60",
                                   "--probes", "3", "--max-idle", "10"],
                                  capture_output=True, text=True)
            self.assertEqual(done.returncode, 2)
            self.assertIn("max_idle must be at least 27 seconds with deadline 60 seconds and "
                          "3 probes, got 10", done.stderr)
            self.assertEqual(raw_keepalive(cli.popen.pid, fd), before)

    def test_reset_variant_forgotten_then_kept(self):
        with NatLab(timeout=ROUTER, reset=True) as lab:
            _, port = start_server(lab)
            cli, _ = self.idle_client(lab, port)
            cli.expect(r"reset: ", timeout=SILENCE + 10)
            self.assertEqual(cli.wait(), 2)
            self.assertGreater(lab.forgotten(), 0)
            run = [program("keepalive-run"), "-D", str(DEADLINE), "--max-idle", str(ROUTER), "--"]
            kept, _ = self.idle_client(lab, port, run)
            kept.expect(r"answered after", timeout=SILENCE + 10)
            self.assertEqual(kept.wait(), 0)
            report(f"reset variant: forgotten connection reset, the -D {DEADLINE} "
                   f"--max-idle {ROUTER} one answered")


@needs(NO_LAB)
class Measure(unittest.TestCase):
    """`keepalive measure` against a router that forgets after 20 s."""

    def measure(self, timeout, reset, maximum):
        with NatLab(timeout=timeout, reset=reset) as lab:
            _, port = start_server(lab)
            start = time.monotonic()
            done = lab.run("client", [keepalive(), "measure", f"{lab.server_ip}:{port}",
                                      "--max", str(maximum), "--json"], timeout=maximum * 4)
            took = time.monotonic() - start
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertIn("round 1:", done.stderr, "progress on stderr")
            result = json.loads(done.stdout)
            # Every test connection closed: none left sending a FIN into a
            # flow the router forgot (those are closed with a reset).
            left = lab.run("client", ["ss", "-Htn", "state", "fin-wait-1"]).stdout.strip()
            self.assertEqual(left, "", "a test connection still sends its FIN")
            return result, took

    def check(self, result, took, timeout, what):
        lower, upper = result["idle_timeout_s"]
        report(f"{what}: router {timeout} s, bracket [{lower}, {upper}] s, recommended "
               f"max_idle {result['recommended_max_idle_s']} s, {result['connections']} "
               f"connections, {took:.1f} s")
        self.assertLessEqual(lower, upper)
        self.assertGreaterEqual(lower, timeout * 0.8)
        self.assertLessEqual(upper, timeout * 1.2)
        self.assertLessEqual(lower, timeout)
        self.assertGreaterEqual(upper, timeout)
        self.assertLess(result["recommended_max_idle_s"], timeout + 1)

    def test_measure_finds_a_20_s_router_within_20_percent(self):
        result, took = self.measure(20, reset=False, maximum=60)
        self.check(result, took, 20, "measure (drop)")

    def test_measure_finds_a_resetting_router(self):
        result, took = self.measure(10, reset=True, maximum=30)
        self.check(result, took, 10, "measure (reset)")


class MeasureUsage(unittest.TestCase):
    """Bad input: a clear error and the contract's exit status (loopback)."""

    def measure(self, *args):
        return subprocess.run([keepalive(), "measure", *args], capture_output=True, text=True,
                              timeout=60)

    def test_bad_input(self):
        for args, status, message in [
            (["127.0.0.1"], 2, "no port"),
            (["127.0.0.1:0"], 2, "the port must be 1..65535"),
            (["::1:80"], 2, "an IPv6 address goes in brackets"),
            (["127.0.0.1:80", "--max", "4"], 2, "--max must be 5..32767 seconds"),
            (["127.0.0.1:80", "--max", "40000"], 2, "--max must be 5..32767 seconds"),
            (["no-such-host.invalid:80"], 1, "cannot resolve no-such-host.invalid"),
        ]:
            done = self.measure(*args)
            self.assertEqual(done.returncode, status, f"{args}: {done.stderr}")
            self.assertIn(message, done.stderr, args)
            self.assertEqual(done.stdout, "", args)

    def test_nothing_listening_is_exit_1(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: refused
            done = self.measure(f"127.0.0.1:{port}")
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("cannot connect to 127.0.0.1", done.stderr)

    def test_a_server_that_greets_first_is_measured_from_its_greeting(self):
        # SSH and SMTP servers speak first: the silence starts after that.
        held = []
        with socket.create_server(("127.0.0.1", 0)) as srv:
            port = srv.getsockname()[1]

            def greet():
                srv.settimeout(10)
                try:
                    while True:
                        conn, _ = srv.accept()
                        conn.sendall(b"220 hello\r\n")
                        held.append(conn)
                except OSError:
                    pass

            threading.Thread(target=greet, daemon=True).start()
            done = self.measure(f"127.0.0.1:{port}", "--max", "5", "--json")
        for conn in held:
            conn.close()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIsNone(json.loads(done.stdout)["idle_timeout_s"])
        self.assertIn("probe answered after 5.", done.stderr)

    def test_a_path_that_forgets_nothing_gives_null(self):
        with socket.create_server(("127.0.0.1", 0)) as srv:
            port = srv.getsockname()[1]
            done = self.measure(f"127.0.0.1:{port}", "--max", "5", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout)
        self.assertEqual(result["target"], f"127.0.0.1:{port}")
        self.assertIsNone(result["idle_timeout_s"])
        self.assertIsNone(result["recommended_max_idle_s"])
        self.assertIn("probe answered after", done.stderr)

