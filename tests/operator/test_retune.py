"""Issue 11's proof: a running program that nobody changed, retuned from outside.

A plain Python program holds an idle connection across a veth pair to a
server in another network namespace (support.netlab.Lab). Without help it would wait
forever: keepalive is off, and merely turned on it would use the defaults,
7200 s + 9 x 75 s. `keepalive set PID -D 5` retunes it while it runs; its own
getsockopt reads the new values; then the server's host is cut off and the
program's blocking read fails with ETIMEDOUT 5 s after the peer's last ACK.

Also: an unprivileged user is refused against another user's process, and
the target is untouched. Needs root and `ip netns` (setpriv for the other
user); skips saying why otherwise, and fails on CI.
"""

import os
import re
import time
import unittest

from oplib import Copies, start, start_in, system_defaults, tool, tool_json
from support.host import NOBODY, why_no_nobody, why_no_pidfd_getfd
from support.netlab import Lab, why_no_lab
from support.report import assert_near, report
from support.skips import first, needs


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()

NO_LAB = first(why_no_lab(), why_no_pidfd_getfd())
NO_NOBODY = first(why_no_nobody(), why_no_pidfd_getfd())

DEADLINE = 5
BOUND = 0.3  # the bound on the time of death, from the last ACK


def own(keepalive, idle, interval, count, user_timeout_ms):
    return {"keepalive": keepalive, "idle": idle, "interval": interval, "count": count,
            "user_timeout_ms": user_timeout_ms}


@needs(NO_LAB)
class RetuneAcrossNamespacesTest(unittest.TestCase):

    def show(self, pid):
        rows = tool_json(self, "show", str(pid))
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def test_set_deadline_then_the_peer_vanishes(self):
        with Lab() as lab:
            server = start_in(lab, "server", "serve", lab.server_ip)
            port = server.ready["port"]
            holder = start_in(lab, "client", "hold", lab.server_ip, port)
            fd, pid = holder.fd("fd"), holder.pid
            server.proc.expect(r"^accepted ")
            idle, interval, count = system_defaults()

            # Before: what the program was started with.
            self.assertEqual(holder.options(), {fd: own(0, idle, interval, count, 0)})
            before = self.show(pid)
            self.assertEqual((before["fd"], before["state"], before["local"], before["remote"]),
                             (fd, "ESTABLISHED", holder.ready["local"],
                              f"{lab.server_ip}:{port}"))
            self.assertEqual((before["enabled"], before["user_timeout_ms"], before["dead_in_ms"]),
                             (False, 0, None))
            report(f"before: keepalive off, dead_in null: the blocking read would wait forever "
                   f"for a vanished peer; keepalive merely turned on would use "
                   f"{idle} + {interval} x {count} = {idle + interval * count} s "
                   f"(over 2 hours)")

            done = tool("set", str(pid), "-D", str(DEADLINE))
            set_at = time.monotonic()
            self.assertEqual(done.returncode, 0, done.stderr)
            report(f"keepalive set {pid} -D {DEADLINE}: {done.stdout.strip()}")
            self.assertEqual(
                done.stdout,
                f"pid {pid} fd {fd} {holder.ready['local']} -> {lab.server_ip}:{port} "
                f"ESTABLISHED: keepalive off {idle}/{interval}/{count} 0 ms -> on 2/1/3 5000 ms "
                f"(dead after 5 s idle, 5 s busy)\n")

            # The program's own getsockopt says so.
            self.assertEqual(holder.options(), {fd: own(1, 2, 1, 3, 5000)})
            after = self.show(pid)
            self.assertEqual((after["enabled"], after["idle"], after["interval"], after["count"],
                              after["user_timeout_ms"], after["dead_after_ms"]),
                             (True, 2, 1, 3, 5000, 5000))
            self.assertIsNotNone(after["dead_in_ms"])
            # Found without naming the pid too (the tool is in the root namespace).
            everyone = [r for r in tool_json(self, "show") if r["pid"] == pid]
            self.assertEqual([r["fd"] for r in everyone], [fd])

            # The first probe (2 s after the set) is answered: from then on the
            # keepalive timer runs from the last ACK, as it does on a socket
            # that had these values from the start.
            while True:
                row = self.show(pid)
                if row["last_ack_ms"] / 1000 + 0.05 < time.monotonic() - set_at:
                    break
                self.assertLess(time.monotonic() - set_at, 10, f"no probe answered: {row}")
                time.sleep(0.1)
            report(f"a probe was answered {time.monotonic() - set_at:.2f} s after the set")

            report(f"server cut off: {lab.cut('server')}")
            cut_at = time.monotonic()
            t0 = time.monotonic()
            row = self.show(pid)
            t1 = time.monotonic()
            last_ack_at = (t0 + t1) / 2 - row["last_ack_ms"] / 1000

            m, seen = holder.proc.expect(r"^read failed errno=(\w+) mono=([\d.]+)",
                                         timeout=DEADLINE + 10)
            self.assertEqual(m.group(1), "ETIMEDOUT", m.string)
            died = float(m.group(2))
            self.assertEqual(holder.proc.wait(), 1)
            report(f"cut -> ETIMEDOUT: {died - cut_at:.3f} s")
            assert_near(self, died - last_ack_at, DEADLINE, BOUND,
                        "peer's last ACK -> the program's read fails with ETIMEDOUT")


@needs(NO_NOBODY)
class PermissionTest(unittest.TestCase):

    def setUp(self):
        self.copies = Copies()
        self.addCleanup(self.copies.remove)

    def test_another_users_process_is_refused_and_untouched(self):
        t = start("pair")  # root's
        self.addCleanup(t.stop)
        before = t.options()
        for args in (["set", str(t.pid), "-D", "5"],
                     ["set", str(t.pid), "--fd", str(t.fd("client")), "-d", "30"],
                     ["show", str(t.pid)]):
            with self.subTest(args=args):
                done = self.copies.run(*args, prefix=NOBODY)
                self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
                # Nothing listed or changed: nothing on stdout, not even a header.
                self.assertEqual(done.stdout, "")
                self.assertIn(f"pid {t.pid} (", done.stderr)
                self.assertIn("permission denied", done.stderr)
                self.assertIn("the same user and a ptrace-able (dumpable) target, or "
                              "CAP_SYS_PTRACE (root)", done.stderr)
                if os.path.exists("/proc/sys/kernel/yama/ptrace_scope"):
                    self.assertIn("ptrace_scope is", done.stderr)
                report(f"nobody: keepalive {' '.join(args)}: {done.stderr.strip()}")
        self.assertEqual(t.options(), before, "the target changed")

        # Every process: the ones not inspectable counted in one line.
        done = self.copies.run("show", prefix=NOBODY)
        self.assertEqual(done.returncode, 0, done.stderr)
        m = re.search(r"^(\d+) process(?:es)? could not be inspected \(permission denied\): "
                      r"run as root or as (?:their|its) owner", done.stderr, re.M)
        self.assertIsNotNone(m, done.stderr)
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertNotIn(f"\n{t.pid} ", "\n" + done.stdout)
        report(f"nobody: keepalive show: {done.stderr.strip()}")

    def test_root_is_told_the_real_reason_and_the_process(self):
        # Root without CAP_SYS_PTRACE (as in a container that drops it)
        # against another user's process: "run as root" would be no answer.
        t = start("pair", prefix=NOBODY, prog=self.copies.prog)
        self.addCleanup(t.stop)
        drop = ["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", "--"]
        done = tool("show", str(t.pid), prefix=drop)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn(f"pid {t.pid} ({comm(t.pid)}, owned by uid 65534): permission denied",
                      done.stderr)
        self.assertIn("this root lacks CAP_SYS_PTRACE", done.stderr)
        self.assertNotIn("(root)", done.stderr)
        report(f"root without CAP_SYS_PTRACE: keepalive show {t.pid}: {done.stderr.strip()}")
        done = tool("show", prefix=drop)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("run as root", done.stderr)
        # Each skipped process named (the first five), with the reason.
        skipped = re.findall(r"^keepalive show: skipped pid \d+ \(.*\): permission denied "
                             r"\(.*\): this root lacks CAP_SYS_PTRACE", done.stderr, re.M)
        self.assertGreaterEqual(len(skipped), 1, done.stderr)
        self.assertLessEqual(len(skipped), 5, done.stderr)

    def test_a_users_own_process_is_retuned(self):
        scope = None
        if os.path.exists("/proc/sys/kernel/yama/ptrace_scope"):
            with open("/proc/sys/kernel/yama/ptrace_scope") as f:
                scope = int(f.read())
        t = start("pair", prefix=NOBODY, prog=self.copies.prog)
        self.addCleanup(t.stop)
        done = self.copies.run("set", str(t.pid), "--fd", str(t.fd("client")), "-D", "10",
                               prefix=NOBODY)
        if scope is not None and scope >= 1:
            # Yama: a sibling is not an ancestor; the message says so.
            self.assertEqual(done.returncode, 1, done.stdout)
            self.assertIn(f"ptrace_scope is {scope}", done.stderr)
            return
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("-> on 7/1/3 10000 ms (dead after 10 s idle, 10 s busy)", done.stdout)
        self.assertEqual(t.options()[t.fd("client")], own(1, 7, 1, 3, 10000))
