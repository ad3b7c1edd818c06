"""`keepalive cgroup` end to end, as root, on real programs and sockets.

Every check reads the settings back from the program's own socket (the
probes print them with getsockopt), in a fresh cgroup v2 made for the test
and removed after it. The programs: a static C binary, a static Go binary
and a cgo one (built at test time from probe.go), python3, and a dynamic C
binary for the comparison with LD_PRELOAD. conftest.py says why every test
skips where there is no root, cgroup v2 or BPF.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

from support import built, host
from support.host import why_no_command
from support.netlab import Lab
from support.proc import Proc
from support.skips import require

HERE = os.path.dirname(os.path.abspath(__file__))
# The command, e.g. "build/bin/keepalive cgroup".
CTL = [built.KEEPALIVE, "cgroup"]
PROBES = built.PROBES
PRELOAD = built.PRELOAD
PROBE_PY = os.path.join(HERE, "probe.py")

# -D 5: the core's split, 2 s idle, 1 s apart, 3 probes, a 5000 ms user timeout.
POLICY = "settings 1 2 1 3 5000"


def probe(name):
    return os.path.join(PROBES, name)


def v2_mount():
    return next(iter(host.mounts_of("cgroup2")), None)


def bpffs():
    mounts = host.mounts_of("bpf")
    return "/sys/fs/bpf" if "/sys/fs/bpf" in mounts else (mounts[0] if mounts else None)


def defaults():
    """The line a socket nobody touched prints, from this namespace's sysctls."""
    def read(name):
        with open(f"/proc/sys/net/ipv4/tcp_keepalive_{name}") as f:
            return f.read().strip()
    return f"settings 0 {read('time')} {read('intvl')} {read('probes')} 0"


def ctl(*args, check=True):
    """Runs `keepalive cgroup ARGS`; returns the finished process."""
    done = subprocess.run([*CTL, *args], capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"keepalive cgroup {' '.join(args)}: status {done.returncode}\n"
                             f"{done.stdout}{done.stderr}")
    return done


def in_cgroup(cgroup, argv):
    """argv, run by a shell that first moves itself into cgroup."""
    return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, *argv]


def settings_of(argv, cgroup=None, env=None, user=None):
    """Runs a probe to its end and returns its settings line."""
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    if cgroup is not None:
        argv = in_cgroup(cgroup, argv)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})
    found = re.findall(r"^settings .*$", done.stdout, re.M)
    if done.returncode != 0 or not found:
        raise AssertionError(f"{argv}: status {done.returncode}\n{done.stdout}{done.stderr}")
    return found[-1]


class Listener:
    """A loopback listener outside every test cgroup, accepting in a thread
    and holding what it accepts until closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


class Held:
    """A probe started with --hold/-hold: prints its settings again for
    every line written to it."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.first = self._settings()

    def _settings(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"probe ended: status {self.proc.wait()}")
            if line.startswith("settings "):
                return line.strip()

    def again(self):
        self.proc.stdin.write("again\n")
        self.proc.stdin.flush()
        return self._settings()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class CgroupCase(unittest.TestCase):
    """Each test gets a fresh cgroup under the v2 mount, removed after it
    (its processes are gone by then), and nothing of ours left in bpffs."""

    def setUp(self):
        self.root = v2_mount()
        self.cg = os.path.join(self.root, f"ka-test-{os.getpid()}-{self._testMethodName[5:25]}")
        os.mkdir(self.cg)
        self.listener = Listener()
        self.cleanups = []

    def tearDown(self):
        for fn in reversed(self.cleanups):
            fn()
        self.listener.close()
        if os.path.exists(os.path.join(bpffs(), "keepalive", f"cgroup-{self.cg_id()}")):
            ctl("detach", self.cg, check=False)
        deadline = time.monotonic() + 10
        while True:
            try:
                os.rmdir(self.cg)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # a probe still exiting

    def cg_id(self):
        return os.stat(self.cg).st_ino

    def attach(self, *args):
        return ctl("attach", self.cg, *args).stdout

    def programs(self):
        """The programs `bpftool cgroup show` lists on the test cgroup."""
        out = subprocess.run(["bpftool", "cgroup", "show", self.cg], capture_output=True,
                             text=True, check=True).stdout
        return sorted(re.findall(r"\b(keepalive_\w+)", out))


class TestReach(CgroupCase):
    def test_every_kind_of_program_gets_the_policy(self):
        self.attach("-D", "5")
        a = self.listener.addr
        for name, argv in [
            ("static C", [probe("probe-c-static"), "connect", a]),
            ("static Go, keepalive left alone", [probe("probe-go"), "-keepalive", "-1s", a]),
            ("cgo Go, keepalive left alone", [probe("probe-go-cgo"), "-keepalive", "-1s", a]),
            ("python3", [sys.executable, PROBE_PY, a]),
        ]:
            with self.subTest(name):
                self.assertEqual(settings_of(argv, cgroup=self.cg), POLICY)
                self.assertEqual(settings_of(argv), defaults(), "outside the cgroup")

    def test_the_accepted_side_of_a_server_in_the_cgroup(self):
        self.attach("-D", "5")
        for where, cgroup, expected in [("inside", self.cg, POLICY), ("outside", None, defaults())]:
            with self.subTest(where):
                argv = [probe("probe-c-static"), "serve"]
                server = subprocess.Popen(in_cgroup(cgroup, argv) if cgroup else argv,
                                          stdout=subprocess.PIPE, text=True)
                port = re.search(r"listening on port (\d+)", server.stdout.readline()).group(1)
                client = socket.create_connection(("127.0.0.1", int(port)))
                out = server.communicate(timeout=10)[0]
                client.close()
                self.assertIn(expected, out)

    def test_the_cgroups_below_get_it_too(self):
        self.attach("-D", "5")
        child = os.path.join(self.cg, "child")
        os.mkdir(child)
        self.cleanups.append(lambda: os.rmdir(child))
        argv = [probe("probe-go"), "-keepalive", "-1s", self.listener.addr]
        self.assertEqual(settings_of(argv, cgroup=child), POLICY)


class TestEnforce(CgroupCase):
    CASES = [
        # name, argv (after the address is filled in), without --enforce
        ("Go's default dialer (15 s / 15 s)", ["probe-go", "{a}"], "settings 1 15 15 3 5000"),
        ("TCP_KEEPIDLE 600 after connecting", ["probe-c-static", "connect", "{a}", "--idle", "600"],
         "settings 1 600 1 3 5000"),
        ("TCP_KEEPIDLE 600 before connecting",
         ["probe-c-static", "connect", "{a}", "--idle-before", "600"], "settings 1 600 1 3 5000"),
    ]

    def run_cases(self, enforced):
        for name, argv, own in self.CASES:
            argv = [probe(argv[0]), *(x.format(a=self.listener.addr) for x in argv[1:])]
            with self.subTest(name, enforce=enforced):
                self.assertEqual(settings_of(argv, cgroup=self.cg), POLICY if enforced else own)

    def test_without_enforce_programs_keep_their_own(self):
        out = self.attach("-D", "5")
        self.assertIn("not enforced: a program that sets its own keepalive keeps it", out)
        self.assertEqual(self.programs(), ["keepalive_sockops"])
        self.run_cases(enforced=False)
        row = json.loads(ctl("list", "--json").stdout)
        mine = [r for r in row if r["cgroup_id"] == self.cg_id()]
        self.assertEqual(len(mine), 1)
        self.assertGreaterEqual(mine[0]["kept"], 1)  # the value set before connecting
        self.assertEqual(mine[0]["rewritten"], 0)

    def test_with_enforce_the_policy_wins(self):
        self.attach("-D", "5", "--enforce")
        self.assertEqual(self.programs(), ["keepalive_setsockopt", "keepalive_sockops"])
        self.run_cases(enforced=True)
        mine = [r for r in json.loads(ctl("list", "--json").stdout)
                if r["cgroup_id"] == self.cg_id()][0]
        self.assertTrue(mine["enforce"])
        self.assertGreaterEqual(mine["rewritten"], 3)  # Go's three calls, at least
        self.assertEqual(mine["failed"], 0)

    def test_attaching_again_replaces_never_stacks(self):
        self.attach("-D", "60", "--enforce")
        out = self.attach("-D", "5")
        self.assertIn("replaced the policy on 30/10/3 60000 ms (enforced)", out)
        self.assertEqual(self.programs(), ["keepalive_sockops"])
        self.run_cases(enforced=False)
        self.attach("-D", "5", "--enforce")
        self.assertEqual(self.programs(), ["keepalive_setsockopt", "keepalive_sockops"])
        self.run_cases(enforced=True)
        pins = os.path.join(bpffs(), "keepalive", f"cgroup-{self.cg_id()}")
        self.assertEqual(sorted(os.listdir(pins)), ["policy", "setsockopt", "sockops", "stats"])


class TestExisting(CgroupCase):
    def test_connections_that_exist_at_attach_time_are_retuned(self):
        a = self.listener.addr
        held = [Held(in_cgroup(self.cg, [probe("probe-c-static"), "connect", a, "--hold"])),
                Held(in_cgroup(self.cg, [probe("probe-go"), "-keepalive", "-1s", "-hold", a]))]
        own = Held(in_cgroup(self.cg, [probe("probe-c-static"), "connect", a, "--idle", "600",
                                       "--hold"]))
        outside = Held([probe("probe-c-static"), "connect", a, "--hold"])
        for h in (*held, own, outside):
            self.cleanups.append(h.close)
        for h in held:
            self.assertEqual(h.first, defaults())
        out = self.attach("-D", "5")
        self.assertRegex(out, r"existing connections: 3 retuned, 0 kept their own keepalive, "
                              r"by pidfd_getfd over 3 processes")
        for h in held:
            self.assertEqual(h.again(), POLICY)
        self.assertEqual(own.again(), "settings 1 600 1 3 5000", "its own idle is kept")
        self.assertEqual(outside.again(), defaults(), "outside the cgroup")
        self.attach("-D", "5", "--enforce")
        self.assertEqual(own.again(), POLICY, "--enforce retunes its idle too")


class TestDetach(CgroupCase):
    def test_detach_leaves_nothing_behind(self):
        self.attach("-D", "5", "--enforce")
        pins = os.path.join(bpffs(), "keepalive", f"cgroup-{self.cg_id()}")
        self.assertTrue(os.path.isdir(pins))
        out = ctl("detach", self.cg).stdout
        for name in ("setsockopt", "sockops", "policy", "stats"):
            self.assertIn(f"removed {pins}/{name}", out)
        self.assertIn(f"removed {pins}\n", out)
        self.assertEqual(self.programs(), [])
        self.assertFalse(os.path.exists(pins))
        top = os.path.join(bpffs(), "keepalive")
        self.assertFalse(os.path.exists(top) and not os.listdir(top), "an empty top directory")
        argv = [probe("probe-go"), "-keepalive", "-1s", self.listener.addr]
        self.assertEqual(settings_of(argv, cgroup=self.cg), defaults())
        again = ctl("detach", self.cg, check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("no keepalive policy is attached to this cgroup", again.stderr)

    def test_a_failed_attach_leaves_nothing_half_attached(self):
        # The kernel allows 64 programs per hook and cgroup: with 64 other
        # cgroup/setsockopt programs there, --enforce fails after sock_ops
        # was attached, and everything must be undone.
        require(why_no_command("clang", "clang: it builds the filler programs"))
        filler = os.path.join(PROBES, "filler.bpf.o")
        fill_dir = os.path.join(bpffs(), f"ka-test-filler-{os.getpid()}")
        os.mkdir(fill_dir)
        self.cleanups.append(lambda: shutil.rmtree(fill_dir))
        for i in range(64):
            pin = os.path.join(fill_dir, str(i))
            subprocess.run(["bpftool", "prog", "load", filler, pin, "type", "cgroup/setsockopt"],
                           check=True, capture_output=True)
            subprocess.run(["bpftool", "cgroup", "attach", self.cg, "setsockopt", "pinned", pin,
                            "multi"], check=True, capture_output=True)

        def unfill():
            for i in range(64):
                subprocess.run(["bpftool", "cgroup", "detach", self.cg, "setsockopt", "pinned",
                                os.path.join(fill_dir, str(i))], capture_output=True)
        self.cleanups.append(unfill)
        failed = ctl("attach", self.cg, "-D", "5", "--enforce", check=False)
        self.assertEqual(failed.returncode, 1, failed.stdout + failed.stderr)
        self.assertIn("attaching the setsockopt program to", failed.stderr)
        self.assertIn("Argument list too long", failed.stderr)
        self.assertNotIn("keepalive_sockops", self.programs())
        self.assertFalse(os.path.exists(os.path.join(bpffs(), "keepalive",
                                                     f"cgroup-{self.cg_id()}")))
        argv = [probe("probe-go"), "-keepalive", "-1s", self.listener.addr]
        self.assertEqual(settings_of(argv, cgroup=self.cg), defaults())
        # Where attach mounted the BPF filesystem itself, a failed attach
        # unmounts it again.
        done = subprocess.run([
            "unshare", "-m", "--propagation", "private", "sh", "-c",
            'umount "$0" && cg=$1 && shift && { "$@" attach "$cg" -D 5 --enforce; '
            'echo "status $?"; awk \'$3 == "bpf"\' /proc/self/mounts; }',
            bpffs(), self.cg, *CTL], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.stdout, "status 1\n", done.stdout + done.stderr)
        self.assertIn("Argument list too long", done.stderr)
        self.assertNotIn("keepalive_sockops", self.programs())


class TestList(CgroupCase):
    def test_list_reads_the_policy_back(self):
        self.attach("-d", "600", "-u", "30000")
        out = ctl("list").stdout
        self.assertRegex(out, re.escape(self.cg) + r"\s+on 600/-/- 30000 ms\s+no ")
        rows = [r for r in json.loads(ctl("list", "--json").stdout)
                if r["cgroup_id"] == self.cg_id()]
        self.assertEqual(rows, [{
            "cgroup": self.cg, "cgroup_id": self.cg_id(), "state": "attached", "idle": 600,
            "interval": None,
            "count": None, "user_timeout_ms": 30000, "enforce": False, "tuned": 0, "kept": 0,
            "rewritten": 0, "failed": 0,
            "pins": os.path.join(bpffs(), "keepalive", f"cgroup-{self.cg_id()}")}])
        argv = [probe("probe-c-static"), "connect", self.listener.addr]
        _, _, _, interval, count, _ = defaults().split()
        self.assertEqual(settings_of(argv, cgroup=self.cg),
                         f"settings 1 600 {interval} {count} 30000")

    def test_max_idle_shapes_the_policy(self):
        # A 30 s deadline through a middlebox that forgets flows silent 6 s.
        self.attach("-D", "30", "--max-idle", "6")
        rows = [r for r in json.loads(ctl("list", "--json").stdout)
                if r["cgroup_id"] == self.cg_id()]
        self.assertEqual([(r["idle"], r["interval"], r["count"], r["user_timeout_ms"])
                          for r in rows], [(2, 1, 28, 30000)])
        argv = [probe("probe-c-static"), "connect", self.listener.addr]
        self.assertEqual(settings_of(argv, cgroup=self.cg), "settings 1 2 1 28 30000")

    def test_a_removed_cgroup_is_listed_as_detached_and_only_prune_removes_it(self):
        gone = os.path.join(self.root, f"ka-test-{os.getpid()}-gone")
        os.mkdir(gone)
        gone_id = os.stat(gone).st_ino
        ctl("attach", gone, "-D", "5")
        self.cleanups.append(lambda: ctl("prune", check=False))
        os.rmdir(gone)
        pins = os.path.join(bpffs(), "keepalive", f"cgroup-{gone_id}")

        def row():
            return [r for r in json.loads(ctl("list", "--json").stdout)
                    if r["cgroup_id"] == gone_id]
        # The kernel detaches a removed cgroup's programs once it is released.
        deadline = time.monotonic() + 10
        while row()[0]["state"] != "detached" and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(2):  # listed as it is, and left as it is
            self.assertEqual([(r["cgroup"], r["state"], r["enforce"]) for r in row()],
                             [(None, "detached", False)])
            self.assertTrue(os.path.isdir(pins))
        self.assertRegex(ctl("list").stdout, rf"\(cgroup {gone_id} removed\).*detached")
        # A live policy is never pruned.
        self.attach("-D", "5")
        out = ctl("prune").stdout
        self.assertIn(f"removed {pins} (not attached)", out)
        self.assertFalse(os.path.exists(pins))
        self.assertEqual(row(), [])
        self.assertEqual(self.programs(), ["keepalive_sockops"])
        self.assertEqual(ctl("prune").stdout, "nothing to prune: every pinned policy is attached\n")

    def test_list_in_a_cgroup_namespace_changes_nothing(self):
        # Where the cgroup v2 mount shows only part of the tree (a container
        # with its own cgroup namespace), the attachment is not found by
        # path: list must say it is attached (the kernel says so), and
        # remove nothing.
        self.attach("-D", "5", "--enforce")
        ns_cg = os.path.join(self.root, f"ka-test-{os.getpid()}-ns")
        os.mkdir(ns_cg)
        self.cleanups.append(lambda: os.rmdir(ns_cg))
        script = ('echo $$ > "$0/cgroup.procs" && root=$1 && shift && '
                  'exec unshare -C -m --propagation private '
                  'sh -c \'umount "$0" && mount -t cgroup2 none "$0" && exec "$@"\' "$root" "$@"')
        done = subprocess.run(["sh", "-c", script, ns_cg, self.root, *CTL, "list", "--json"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertTrue(os.path.isdir(os.path.join(bpffs(), "keepalive",
                                                   f"cgroup-{self.cg_id()}")))
        self.assertEqual(self.programs(), ["keepalive_setsockopt", "keepalive_sockops"])
        argv = [probe("probe-c-static"), "connect", self.listener.addr]
        self.assertEqual(settings_of(argv, cgroup=self.cg), POLICY)
        rows = [r for r in json.loads(done.stdout) if r["cgroup_id"] == self.cg_id()]
        self.assertEqual([(r["cgroup"], r.get("state"), r["enforce"]) for r in rows],
                         [(None, "attached", True)])


class TestErrors(CgroupCase):
    def refused(self, *args, status=1, env=None, prefix=()):
        done = subprocess.run([*prefix, *CTL, *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})})
        self.assertEqual(done.returncode, status, done.stdout + done.stderr)
        self.assertEqual(done.stdout, "")
        return done.stderr

    def test_usage_errors_exit_2_before_anything_is_touched(self):
        # The tool's clap parser words them; the values' messages are the core's.
        attach_usage = "Usage: keepalive cgroup attach CGROUP (-D SECONDS"
        for args, message, usage in [
            (["attach", self.cg, "-D", "1"], "deadline must be 2..131068 seconds, got 1", None),
            (["attach", self.cg, "-c", "128"], "count must be 1..127 probes, got 128", None),
            (["attach", self.cg, "-i", "0"], "interval must be 1..32767 seconds, got 0", None),
            (["attach", self.cg, "-u", "-5"], "user_timeout must be 0..2147483647 milliseconds",
             None),
            (["attach", self.cg, "-D", "5", "-d", "3"],
             "idle cannot be given with deadline: deadline sets idle, interval, count",
             attach_usage),
            (["attach", self.cg, "-D", "60", "--probes", "3", "--max-idle", "10"],
             "max_idle must be at least 27 seconds with deadline 60 seconds and 3 probes, got 10",
             None),
            (["attach", self.cg, "-d", "3", "--probes", "2"],
             "probes goes with deadline: give deadline too", attach_usage),
            (["attach", "-D", "5"], "the following required arguments were not provided:\n"
             "  <CGROUP>", attach_usage),
            (["attach", self.cg, "--bogus"], "unexpected argument '--bogus' found", attach_usage),
            (["detach"], "the following required arguments were not provided:\n  <CGROUP>",
             "Usage: keepalive cgroup detach CGROUP"),
            (["prune", self.cg], f"unexpected argument '{self.cg}' found",
             "Usage: keepalive cgroup prune"),
            (["frobnicate"], "unrecognized subcommand 'frobnicate'",
             "Usage: keepalive cgroup <COMMAND>"),
        ]:
            with self.subTest(args=args):
                err = self.refused(*args, status=2)
                self.assertTrue(err.startswith("error: "), err)
                self.assertIn(message, err)
                if usage:
                    self.assertIn(usage, err)
                self.assertIn("For more information, try '--help'.", err)
        self.assertEqual(self.programs(), [])

    def test_help_on_each_verb(self):
        for verb, usage in [
            ("attach", "Usage: keepalive cgroup attach CGROUP (-D SECONDS [--probes N] "
                       "[--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]) [--enforce]"),
            ("detach", "Usage: keepalive cgroup detach CGROUP"),
            ("list", "Usage: keepalive cgroup list [--json]"),
            ("prune", "Usage: keepalive cgroup prune"),
        ]:
            with self.subTest(verb):
                done = ctl(verb, "--help")
                self.assertIn(usage, done.stdout)
                self.assertEqual(done.stderr, "")
        self.assertIn("Usage: keepalive cgroup <COMMAND>", ctl("--help").stdout)

    def test_paths_that_are_not_cgroup_v2_directories(self):
        v1 = next((m for m in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu")
                   if os.path.isdir(m) and os.path.ismount(m)), None)
        cases = [("/tmp", "/tmp: not a cgroup v2 directory: not on a cgroup v2 filesystem"),
                 ("/nonexistent/x", "/nonexistent/x: not a cgroup v2 directory: No such file"),
                 (os.path.join(self.cg, "cgroup.procs"), "not a directory")]
        if v1:
            cases.append((v1, "a cgroup v1 directory (BPF programs attach to cgroup v2 only)"))
        for path, message in cases:
            with self.subTest(path):
                self.assertIn(message, self.refused("attach", path, "-D", "5"))
        self.assertIn("no keepalive policy is attached", self.refused("detach", self.cg))

    def test_without_root(self):
        err = self.refused("attach", self.cg, "-D", "5",
                           prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        self.assertIn("permission denied: loading and attaching the BPF programs needs root", err)
        self.assertIn("lacks CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN", err)
        # Root without CAP_NET_ADMIN (the capability that attaching needs).
        err = self.refused("attach", self.cg, "-D", "5", prefix=[
            "setpriv", "--inh-caps=-all", "--bounding-set=-net_admin", "--"])
        self.assertIn("lacks CAP_NET_ADMIN", err)
        self.assertEqual(self.programs(), [])

    def test_without_cgroup_v2(self):
        # In a mount namespace of its own, where it is unmounted.
        err = self.refused("attach", "/sys/fs/cgroup", "-D", "5", prefix=[
            "unshare", "-m", "--propagation", "private", "sh", "-c",
            f'umount "{self.root}" && exec "$0" "$@"'])
        self.assertIn("no cgroup v2 hierarchy is mounted", err)
        self.assertEqual(self.programs(), [])

    def test_without_bpffs_attach_mounts_it_and_says_so(self):
        # In a mount namespace of its own, where it is unmounted: attach
        # mounts one (as bpftool does), says so, and list finds the policy
        # there. The namespace's BPF filesystem, and the policy pinned in
        # it, end with the namespace.
        fs = bpffs()
        done = subprocess.run([
            "unshare", "-m", "--propagation", "private", "sh", "-c",
            'umount "$0" && cg=$1 && shift && "$@" list && "$@" attach "$cg" -D 5 '
            '&& ls -ld "$0/keepalive" '
            '&& "$@" list --json',
            fs, self.cg, *CTL], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        # list mounts nothing: with no BPF filesystem, nothing is pinned here.
        self.assertTrue(done.stdout.startswith("no keepalive policy is attached to any cgroup\n"
                                               "mounted the BPF filesystem at /sys/fs/bpf (none "
                                               "was mounted), as bpftool does"), done.stdout)
        self.assertRegex(done.stdout, r"\ndrwx------ .* /sys/fs/bpf/keepalive\n")
        listed = json.loads(done.stdout[done.stdout.index("\n["):])
        self.assertEqual([(r["cgroup"], r["state"]) for r in listed], [(self.cg, "attached")])
        deadline = time.monotonic() + 10
        while self.programs() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.programs(), [])


class TestDeadPeer(CgroupCase):
    def test_a_go_client_in_the_cgroup_learns_of_a_dead_peer_in_5_s(self):
        self.attach("-D", "5")
        with Lab() as lab:
            server = lab.start("server", [sys.executable, "-c", (
                "import signal,socket\n"
                "s=socket.socket(); s.bind(('0.0.0.0',5051)); s.listen(8)\n"
                "print('listening', flush=True)\n"
                "held=[s.accept()[0] for _ in range(2)]\n"
                "signal.pause()\n")])
            server.expect("listening")
            go = [probe("probe-go"), "-keepalive", "-1s", "-wait", f"{lab.server_ip}:5051"]
            netns = ["ip", "netns", "exec", lab.ns["client"]]
            inside = Proc("inside", in_cgroup(self.cg, [*netns, *go]))
            outside = Proc("outside", [*netns, *go])
            lab.procs += [inside, outside]
            inside.expect(r"^settings " + re.escape(POLICY[9:]) + "$")
            outside.expect("^" + re.escape(defaults()) + "$")
            cut_at = time.monotonic()
            lab.cut("server")
            m, failed_at = inside.expect(r"failed (\S+) last_ack_ms=(\d+)", timeout=15)
            self.assertEqual(m.group(1), "ETIMEDOUT")
            after_ack = int(m.group(2)) / 1000
            print(f"\n    dead peer: ETIMEDOUT {after_ack:.3f} s after the last ACK, "
                  f"{failed_at - cut_at:.3f} s after the cut", file=sys.stderr)
            self.assertAlmostEqual(after_ack, 5.0, delta=0.3)
            self.assertLessEqual(failed_at - cut_at, 5.3)
            # The same client outside the cgroup: still waiting 20 s after the cut.
            with self.assertRaises(AssertionError):
                outside.expect(r"failed", timeout=max(0.0, cut_at + 20 - time.monotonic()))
            self.assertIsNone(outside.popen.poll(), "the outside client is still waiting")


class TestReachTable(CgroupCase):
    """What LD_PRELOAD reaches, and what the cgroup policy reaches, measured
    on the same probes; docs/cgroup.md has the table this prints."""

    def test_the_table(self):
        require(None if os.path.exists(PRELOAD) else f"{PRELOAD} is not built (make build-preload)")
        a = self.listener.addr
        setuid_dir = os.path.join(PROBES, "setuid")
        os.makedirs(setuid_dir, exist_ok=True)
        os.chmod(setuid_dir, 0o755)
        setuid_probe = os.path.join(setuid_dir, "probe-c-setuid")
        shutil.copy(probe("probe-c-dynamic"), setuid_probe)
        os.chown(setuid_probe, 0, 0)
        os.chmod(setuid_probe, 0o4755)
        # The values of -D 5, in the variables every preload library reads.
        preload = {"LD_PRELOAD": PRELOAD, "KEEPIDLE": "2", "KEEPINTVL": "1", "KEEPCNT": "3",
                   "KEEPALIVE_USER_TIMEOUT_MS": "5000"}
        kinds = [
            ("dynamic C", [probe("probe-c-dynamic"), "connect", a], None),
            ("static C", [probe("probe-c-static"), "connect", a], None),
            ("Go, static", [probe("probe-go"), "-keepalive", "-1s", a], None),
            ("Go, cgo (dynamic)", [probe("probe-go-cgo"), "-keepalive", "-1s", a], None),
            ("setuid root, run by nobody", [setuid_probe, "connect", a], 65534),
        ]
        rows = []
        self.attach("-D", "5")
        for name, argv, user in kinds:
            by_preload = settings_of(argv, env=preload, user=user)
            by_cgroup = settings_of(argv, cgroup=self.cg, user=user)
            rows.append((name, by_preload, by_cgroup))
        # Already running: started before anyone could preload anything into it.
        ctl("detach", self.cg)
        held = Held(in_cgroup(self.cg, [probe("probe-c-dynamic"), "connect", a, "--hold"]))
        self.cleanups.append(held.close)
        before = held.first
        self.attach("-D", "5")
        rows.append(("already running", before, held.again()))

        def word(line):
            return "reached" if line == POLICY else "not reached"
        table = ["| program | LD_PRELOAD (KEEPIDLE=2 KEEPINTVL=1 KEEPCNT=3 "
                 "KEEPALIVE_USER_TIMEOUT_MS=5000) | cgroup (attach -D 5) |",
                 "|---|---|---|"]
        table += [f"| {n} | {word(p)}: {p[9:]} | {word(c)}: {c[9:]} |" for n, p, c in rows]
        print("\n" + "\n".join(table), file=sys.stderr)
        self.assertEqual([word(c) for _, _, c in rows], ["reached"] * len(rows))
        self.assertEqual([word(p) for _, p, _ in rows],
                         ["reached"] + ["not reached"] * (len(rows) - 1))


WRITER = os.path.join(HERE, "writer.py")


def nft(ns, script):
    subprocess.run(["ip", "netns", "exec", ns, "nft", script], check=True, capture_output=True)


def block(ns, table, ports):
    """Drops every packet to and from those server ports, in the server's
    namespace: those connections' peer vanishes, the others' does not."""
    ports = ", ".join(str(p) for p in ports)
    nft(ns, f"add table inet {table}; "
            f"add chain inet {table} in {{ type filter hook input priority -300; }}; "
            f"add chain inet {table} out {{ type filter hook output priority -300; }}; "
            f"add rule inet {table} in tcp dport {{ {ports} }} drop; "
            f"add rule inet {table} out tcp sport {{ {ports} }} drop")


class TestDeadlineInEveryState(CgroupCase):
    """Issue 18: `attach -D 10` keeps the deadline when a python3 program
    that sets nothing writes to a connection whose peer went silent 3 s or
    9 s before (Linux alone: dead 13 s and 19 s after the peer was last
    heard), when it was writing all along (Linux: D + RTO), and when it
    connects to a host that is gone (Linux: 127 s); a connection whose peer
    comes back gets its full 10 s back."""

    D = 10

    def test_a_write_after_a_silence_dies_d_after_the_peer_was_last_heard(self):
        out = self.attach("-D", str(self.D))
        self.assertIn("deadline kept in every state", out)
        require(why_no_command("nft", "nftables: it cuts single connections"))
        with Lab() as lab:
            ports = [5061, 5062, 5064, 5063]
            server = lab.start("server", [sys.executable, "-c", (
                "import select,socket,sys\n"
                "ls=[socket.create_server(('0.0.0.0',int(p))) for p in sys.argv[1:]]\n"
                "print('listening', flush=True)\n"
                "conns=[]\n"
                "while True:\n"
                "    for s in select.select(ls+conns,[],[])[0]:\n"
                "        if s in ls: conns.append(s.accept()[0])\n"
                "        elif not s.recv(65536): conns.remove(s)\n"), *map(str, ports)])
            server.expect("listening")
            netns = ["ip", "netns", "exec", lab.ns["client"]]
            writers = {}
            for name, port, silence in [("at 3 s", 5061, "3"), ("at 9 s", 5062, "9"),
                                        ("busy", 5064, "busy"), ("heard again", 5063, "3")]:
                argv = in_cgroup(self.cg, [*netns, sys.executable, WRITER,
                                           f"{lab.server_ip}:{port}", str(silence)])
                writers[name] = Proc(name, argv)
                lab.procs.append(writers[name])
                writers[name].expect(r"^connected ")
            block(lab.ns["server"], "kagone", ports[:3])
            block(lab.ns["server"], "kablip", ports[3:])
            # The third peer comes back once its user timeout was shortened:
            # its connection lives on, with the full D again.
            blip = writers["heard again"]
            m, _ = blip.expect(r"^user_timeout \S+ (\d+)$", timeout=15)
            if int(m.group(1)) == self.D * 1000:
                m, _ = blip.expect(r"^user_timeout \S+ (\d+)$", timeout=5)
            shortened = int(m.group(1))
            self.assertLess(shortened, self.D * 1000, blip.transcript())
            nft(lab.ns["server"], "delete table inet kablip")
            blip.expect(r"^acked ", timeout=5)
            time.sleep(0.1)  # the probe prints every change within 20 ms
            blip.drain()
            now = [int(line.split()[2]) for _, line in blip.lines
                   if line.startswith("user_timeout ")][-1]
            print(f"\n    heard again: user timeout {shortened} ms while silent, back to "
                  f"{now} ms once heard", file=sys.stderr)
            self.assertEqual(now, self.D * 1000, blip.transcript())
            for name in ("at 3 s", "at 9 s"):
                w = writers[name]
                m, _ = w.expect(r"^wrote (\S+) (\d+)$", timeout=15)
                wrote, silent_ms = float(m.group(1)), int(m.group(2))
                m, _ = w.expect(r"^failed (\S+) (\S+) (\d+)$", timeout=self.D + 10)
                died, last_ack = float(m.group(1)) - wrote, int(m.group(3)) / 1000
                print(f"    attach -D {self.D}, write {silent_ms / 1000:.3f} s after the peer was "
                      f"last heard: {m.group(2)} {last_ack:.3f} s after it was last heard "
                      f"({died:.3f} s after the write)", file=sys.stderr)
                self.assertIn(m.group(2), ("ETIMEDOUT", "EHOSTUNREACH"))
                self.assertLessEqual(last_ack, self.D + 1)
                self.assertGreaterEqual(last_ack, self.D - 0.5)
                w.drain()
                uts = [int(line.split()[2]) for _, line in w.lines
                       if line.startswith("user_timeout ")]
                self.assertLess(min(uts), self.D * 1000, w.transcript())
            # Connecting to a host that is gone: the SYNs end D after the first
            # (Linux's default without a user timeout: 127 s).
            block(lab.ns["server"], "kasyn", [5065])
            argv = in_cgroup(self.cg, [*netns, sys.executable, WRITER, f"{lab.server_ip}:5065",
                                       "connect"])
            syn = Proc("connect", argv)
            lab.procs.append(syn)
            m, _ = syn.expect(r"^connecting (\S+)$")
            began = float(m.group(1))
            # Busy from the start: Linux alone, D + RTO after the last ACK.
            m, _ = writers["busy"].expect(r"^failed (\S+) (\S+) (\d+)$", timeout=self.D + 10)
            last_ack = int(m.group(3)) / 1000
            print(f"    attach -D {self.D}, busy from the start: {m.group(2)} {last_ack:.3f} s "
                  "after the peer was last heard", file=sys.stderr)
            self.assertIn(m.group(2), ("ETIMEDOUT", "EHOSTUNREACH"))
            self.assertLessEqual(last_ack, self.D + 1)
            m, _ = syn.expect(r"^failed (\S+) (\S+) -$", timeout=self.D + 10)
            took = float(m.group(1)) - began
            print(f"    attach -D {self.D}, connecting to a host that is gone: {m.group(2)} "
                  f"{took:.3f} s after connect() began", file=sys.stderr)
            self.assertEqual(m.group(2), "ETIMEDOUT")
            self.assertLessEqual(took, self.D + 1)
            time.sleep(1)
            blip.drain()
            self.assertIsNone(blip.popen.poll(), blip.transcript())


class TestExistingNotRetuned(CgroupCase):
    """Issue 20: attach exits 1, saying which, when existing connections of
    the cgroup could not be retuned (an MPTCP connection has no
    TCP_USER_TIMEOUT, so no -D deadline); the policy stays attached."""

    def test_attach_exits_1_when_an_existing_connection_was_not_retuned(self):
        prog = os.path.join(HERE, "..", "operator", "prog.py")
        held = Proc("mptcp", in_cgroup(self.cg, [sys.executable, prog, "mptcp"]))
        self.cleanups.append(held.stop)
        m, _ = held.expect(r"^(ready|unsupported)")
        if m.group(1) == "unsupported":
            self.skipTest("this kernel has no MPTCP")
        done = ctl("attach", self.cg, "-D", "5", check=False)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertRegex(done.stdout, r"existing connections: not retuned: pid \d+ fd \d+: "
                                      r"TCP_USER_TIMEOUT")
        self.assertIn("existing connections were not all retuned", done.stderr)
        listed = json.loads(ctl("list", "--json").stdout)
        self.assertIn(self.cg, [a["cgroup"] for a in listed], "the policy stays attached")
