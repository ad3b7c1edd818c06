"""Issue 15's proof: the system-wide defaults, set through the tool (and through
C and Python once their bindings have set_system_defaults).

Every write happens in a fresh network namespace of the test's own (`ip netns
add`), so the host's values are never touched, and each test checks that they
were not. Since Linux 4.13 tcp_keepalive_{time,intvl,probes} are per
namespace, and a new namespace starts at the kernel's 7200/75/9. Needs root
and `ip netns`; skips saying why otherwise, and fails on CI.
"""

import glob
import json
import os
import platform
import shutil
import subprocess
import tempfile
import unittest
import zipfile

from oplib import BUILD, KEEPALIVE, PYTHON, Copies, system_defaults
from support.host import NOBODY, why_no_command, why_no_nobody
from support.netlab import why_no_lab
from support.proc import sh
from support.report import report
from support.skips import needs, require, skip

NO_LAB = why_no_lab()
NO_NOBODY = why_no_nobody()
NAMES = ("time", "intvl", "probes")
FRESH = (7200, 75, 9)  # what a new namespace starts with

#: A socket made in the namespace with keepalive merely turned on: what it reads.
ENABLED_SOCKET = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
"""

C_PROGRAM = r"""
#include <errno.h>
#include <keepalive.h>
#include <stdio.h>
int main(void) {
    keepalive_config bad = { .idle = 600, .interval = -1, .count = 4 };
    if (keepalive_set_system_defaults(&bad) != -1 || errno != EINVAL) {
        fprintf(stderr, "a negative interval was not refused with EINVAL\n");
        return 1;
    }
    keepalive_config c = { .idle = 600, .interval = 20, .count = 4 };
    if (keepalive_set_system_defaults(&c) != 0) {
        fprintf(stderr, "keepalive_set_system_defaults: %s\n", keepalive_last_error());
        return 1;
    }
    keepalive_config out;
    if (keepalive_system_defaults(&out) != 0) return 1;
    printf("%d %d %d\n", (int)out.idle, (int)out.interval, (int)out.count);
    return 0;
}
"""


@needs(NO_LAB)
class NamespaceCase(unittest.TestCase):
    """Each test gets a fresh network namespace; the host is checked untouched."""

    count = 0

    def setUp(self):
        NamespaceCase.count += 1
        self.ns = f"katdef{os.getpid()}-{NamespaceCase.count}"
        sh("ip", "netns", "add", self.ns)
        self.addCleanup(sh, "ip", "netns", "del", self.ns, check=False)
        self.host = system_defaults()
        self.addCleanup(self.assert_host_untouched)

    def assert_host_untouched(self):
        self.assertEqual(system_defaults(), self.host, "the host's defaults changed")

    def in_ns(self, *argv, env=None, prefix=()):
        """Runs argv inside the namespace; returns the CompletedProcess."""
        return subprocess.run(["ip", "netns", "exec", self.ns, *prefix, *argv],
                              capture_output=True, text=True, timeout=60, env=env,
                              stdin=subprocess.DEVNULL)

    def proc_values(self):
        """The three values as /proc/sys/net/ipv4 shows them inside the namespace."""
        done = self.in_ns("cat", *(f"/proc/sys/net/ipv4/tcp_keepalive_{n}" for n in NAMES))
        self.assertEqual(done.returncode, 0, done.stderr)
        return tuple(int(v) for v in done.stdout.split())

    def assert_reads(self, values):
        """/proc, the tool's --json and a socket with keepalive merely on, in the namespace."""
        self.assertEqual(self.proc_values(), values)
        done = self.in_ns(KEEPALIVE, "defaults", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        j = json.loads(done.stdout)
        self.assertEqual((j["idle"], j["interval"], j["count"]), values)
        idle, interval, count = values
        self.assertEqual(j["dead_after_ms"], (idle + interval * count) * 1000)
        done = self.in_ns(PYTHON, "-c", ENABLED_SOCKET)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(tuple(int(v) for v in done.stdout.split()), values)


class ToolTest(NamespaceCase):

    def test_defaults_shows_what_they_mean(self):
        done = self.in_ns(KEEPALIVE, "defaults")
        self.assertEqual(done.returncode, 0, done.stderr)
        print("\n".join(f"    | {line}" for line in done.stdout.splitlines()))
        self.assertIn("net.ipv4.tcp_keepalive_time   = 7200", done.stdout)
        self.assertIn("net.ipv4.tcp_keepalive_probes = 9 ", done.stdout)
        words = " ".join(done.stdout.split())
        self.assertIn("dead idle + interval x count = 7200 + 75 x 9 = 7875 s (2h11m15s) "
                      "after its peer goes silent", words)
        self.assertIn("They change nothing for sockets that never turn SO_KEEPALIVE on, nor for "
                      "those that set their own values", words)
        self.assertTrue(all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout)

    def test_set_600_20_4_reads_back_everywhere_in_the_namespace(self):
        self.assert_reads(FRESH)
        done = self.in_ns(KEEPALIVE, "defaults", "set", "-d", "600", "-i", "20", "-c", "4")
        self.assertEqual(done.returncode, 0, done.stderr)
        print("\n".join(f"    | {line}" for line in done.stdout.splitlines()))
        lines = done.stdout.splitlines()
        self.assertEqual(lines[:3], ["net.ipv4.tcp_keepalive_time: 7200 -> 600 s",
                                     "net.ipv4.tcp_keepalive_intvl: 75 -> 20 s",
                                     "net.ipv4.tcp_keepalive_probes: 9 -> 4"])
        self.assertTrue(lines[3].startswith("dead after 7875 s -> 680 s of silence"), lines[3])
        self.assert_reads((600, 20, 4))
        # One value: the others stay.
        done = self.in_ns(KEEPALIVE, "defaults", "set", "--count", "5")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("net.ipv4.tcp_keepalive_time: 600 -> 600 s (unchanged)", done.stdout)
        self.assert_reads((600, 20, 5))

    def test_bad_values_are_refused_and_nothing_is_written(self):
        cases = [
            (["-d", "0"], "idle must be 1..32767 seconds, got 0"),
            (["-d", "600", "-i", "-1"], "interval must be 1..32767 seconds, got -1"),
            (["-d", "600", "-c", "4", "-i", "32768"], "interval must be 1..32767 seconds, got 32768"),
            (["-c", "128"], "count must be 1..127 probes, got 128"),
            (["-c", "-4"], "count must be 1..127 probes, got -4"),
            (["-d", "7e3"], "invalid value '7e3'"),
            (["-u", "5000"], "unexpected argument '-u'"),
            ([], "the following required arguments were not provided"),
            (["--persist"], "the following required arguments were not provided"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                done = self.in_ns(KEEPALIVE, "defaults", "set", *args)
                self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
                self.assertIn(message, done.stderr)
                self.assertEqual(done.stdout, "")
                self.assertEqual(self.proc_values(), FRESH)

    @needs(NO_NOBODY)
    def test_a_non_root_caller_is_refused_and_nothing_is_written(self):
        copies = Copies()
        self.addCleanup(copies.remove)
        done = self.in_ns(copies.keepalive, "defaults", "set", "-d", "600", "-i", "20", "-c", "4",
                          prefix=NOBODY)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        print(f"    | {done.stderr.strip()}")
        self.assertIn("Permission denied", done.stderr)
        self.assertIn("needs root (CAP_NET_ADMIN in this network namespace); nothing was changed",
                      done.stderr)
        self.assertEqual(self.proc_values(), FRESH)
        # Reading is for everyone.
        done = self.in_ns(copies.keepalive, "defaults", "--json", prefix=NOBODY)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["idle"], 7200)


#: The tool as PID 1 of a new PID namespace inside the test's network namespace:
#: a container's init, whose network namespace is the one its boot applies
#: sysctl.d to. --persist is refused anywhere else (issue 20).
AS_PID_1 = ("unshare", "--pid", "--fork", "--mount-proc")


def with_sysctl_dir(directory, prefix=AS_PID_1):
    """The prefix that runs the tool with `directory` bind-mounted over
    /etc/sysctl.d, in a mount namespace of its own (--mount-proc makes one,
    private): --persist always writes /etc/sysctl.d, and no variable may
    redirect it (issue 20)."""
    return (*prefix, "sh", "-c", 'mount --bind "$0" /etc/sysctl.d && exec "$@"', directory)


class PersistTest(NamespaceCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="keepalive-sysctl-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.file = os.path.join(self.dir, "60-keepalive.conf")

    def persist(self, *args, env=None):
        return self.in_ns(KEEPALIVE, "defaults", "set", *args, "--persist", env=env,
                          prefix=with_sysctl_dir(self.dir))

    def test_persist_from_a_namespace_other_than_pid_1s_is_refused(self):
        done = self.in_ns(KEEPALIVE, "defaults", "set", "-d", "600", "--persist",
                          prefix=with_sysctl_dir(self.dir, prefix=("unshare", "--mount")))
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        # Where even root may not read /proc/1/ns/net (a sandbox), it cannot
        # tell, and refuses as well.
        self.assertRegex(done.stderr, r"is not the one PID 1 runs in|cannot tell whether this "
                                      r"is PID 1's network namespace")
        self.assertIn("nothing was changed", done.stderr)
        self.assertEqual(os.listdir(self.dir), [], "a file was written")
        self.assertEqual(self.proc_values(), FRESH, "refused, yet the live values changed")

    def test_a_later_file_that_sets_our_values_is_warned_about(self):
        admin = os.path.join(self.dir, "99-admin.conf")
        with open(admin, "w") as f:
            f.write("net.ipv4.tcp_keepalive_time = 60\nvm.swappiness = 10\n")
        with open(os.path.join(self.dir, "10-early.conf"), "w") as f:
            f.write("net.ipv4.tcp_keepalive_intvl = 5\n")
        done = self.persist("-d", "600")
        self.assertEqual(done.returncode, 0, done.stderr)
        warnings = [ln for ln in done.stderr.splitlines() if "warning:" in ln]
        self.assertEqual(len(warnings), 1, done.stderr)
        # The tool sees the directory where it is mounted: /etc/sysctl.d.
        self.assertIn("/etc/sysctl.d/99-admin.conf sets net.ipv4.tcp_keepalive_time = 60 and "
                      "is applied after "
                      "60-keepalive.conf at boot", warnings[0])
        self.assertEqual(self.proc_values(), (600, 75, 9))

    def test_persist_writes_what_sysctl_reads_and_replaces_its_own_file(self):
        done = self.persist("-d", "600", "-i", "20", "-c", "4")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("persisted in /etc/sysctl.d/60-keepalive.conf", done.stdout)
        with open(self.file) as f:
            text = f.read()
        print("\n".join(f"    | {line}" for line in text.splitlines()))
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("# Written by `keepalive defaults set"), lines[0])
        self.assertEqual([ln for ln in lines if not ln.startswith("#")],
                         ["net.ipv4.tcp_keepalive_time = 600",
                          "net.ipv4.tcp_keepalive_intvl = 20",
                          "net.ipv4.tcp_keepalive_probes = 4"])
        self.assertEqual(os.stat(self.file).st_mode & 0o777, 0o644)

        # A second run replaces it: one file, no temporary left behind.
        done = self.persist("-c", "5")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(os.listdir(self.dir), ["60-keepalive.conf"])
        with open(self.file) as f:
            self.assertIn("net.ipv4.tcp_keepalive_probes = 5\n", f.read())

        # What `sysctl --system` would do at boot: apply it, in another fresh namespace.
        # (Without sysctl the file's content was checked, not applied.)
        require(why_no_command("sysctl", "procps"))
        other = f"{self.ns}-b"
        sh("ip", "netns", "add", other)
        self.addCleanup(sh, "ip", "netns", "del", other, check=False)
        done = subprocess.run(["ip", "netns", "exec", other, "sysctl", "-p", self.file],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        read = subprocess.run(["ip", "netns", "exec", other, "cat",
                               *(f"/proc/sys/net/ipv4/tcp_keepalive_{n}" for n in NAMES)],
                              capture_output=True, text=True)
        self.assertEqual(tuple(int(v) for v in read.stdout.split()), (600, 20, 5))
        report(f"sysctl -p {self.file} in a fresh namespace: 600/20/5")

    def test_a_file_it_did_not_write_is_left_alone(self):
        foreign = "# the admin's own\nnet.ipv4.tcp_keepalive_time = 60\n"
        with open(self.file, "w") as f:
            f.write(foreign)
        done = self.persist("-d", "600")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("exists and was not written by keepalive", done.stderr)
        self.assertIn("nothing was changed", done.stderr)
        with open(self.file) as f:
            self.assertEqual(f.read(), foreign)
        self.assertEqual(self.proc_values(), FRESH, "refused, yet the live values changed")

    def test_a_missing_directory_is_refused_before_anything_changes(self):
        # /etc/sysctl.d gone: an empty tmpfs over /etc, in the tool's own
        # mount namespace.
        hide_etc = (*AS_PID_1, "sh", "-c", 'mount -t tmpfs tmpfs /etc && exec "$@"', "sh")
        done = self.in_ns(KEEPALIVE, "defaults", "set", "-d", "600", "--persist",
                          prefix=hide_etc)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("No such file or directory", done.stderr)
        self.assertEqual(self.proc_values(), FRESH)

    def test_no_variable_redirects_where_root_writes(self):
        # KEEPALIVE_SYSCTL_DIR was a test hook that release builds honoured:
        # whoever set root's environment chose where root wrote.
        elsewhere = tempfile.mkdtemp(prefix="keepalive-elsewhere-")
        self.addCleanup(shutil.rmtree, elsewhere, True)
        done = self.persist("-d", "600", env=dict(os.environ, KEEPALIVE_SYSCTL_DIR=elsewhere))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(os.listdir(elsewhere), [], "the variable chose where root wrote")
        self.assertTrue(os.path.exists(self.file), "nothing written to /etc/sysctl.d")


def header_has(symbol):
    try:
        with open(os.path.join(BUILD, "include", "keepalive.h")) as f:
            return symbol in f.read()
    except OSError:
        return False


class BindingTest(NamespaceCase):
    """The same 600/20/4 through the C and Python libraries (issue 15)."""

    def test_c_keepalive_set_system_defaults(self):
        if not header_has("keepalive_set_system_defaults"):
            self.skipTest("build/include/keepalive.h has no keepalive_set_system_defaults yet "
                          "(the C binding is not merged)")
        cc = os.environ.get("CC", "cc")
        require(why_no_command(cc, "gcc"))
        work = tempfile.mkdtemp(prefix="keepalive-c-")
        self.addCleanup(shutil.rmtree, work, True)
        source, program = os.path.join(work, "t.c"), os.path.join(work, "t")
        with open(source, "w") as f:
            f.write(C_PROGRAM)
        libdir = os.path.join(BUILD, "lib")
        subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", program, source,
                        f"-I{os.path.join(BUILD, 'include')}", f"-L{libdir}", "-lkeepalive",
                        f"-Wl,-rpath,{libdir}"], check=True)
        done = self.in_ns(program)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), ["600", "20", "4"])
        self.assert_reads((600, 20, 4))

    def test_python_keepalive_set_system_defaults(self):
        # This machine's wheel: build/wheels also holds the aarch64 one.
        wheels = glob.glob(os.path.join(BUILD, "wheels", f"libkeepalive-*_{platform.machine()}.whl"))
        if not wheels:
            skip(f"no wheel in {BUILD}/wheels (make build-py)")
        work = tempfile.mkdtemp(prefix="keepalive-py-")
        self.addCleanup(shutil.rmtree, work, True)
        with zipfile.ZipFile(wheels[0]) as z:  # an abi3 wheel runs unpacked
            z.extractall(work)
        env = dict(os.environ, PYTHONPATH=work)
        probe = subprocess.run([PYTHON, "-c", "import keepalive; "
                                "print(hasattr(keepalive, 'set_system_defaults'))"],
                               capture_output=True, text=True, env=env)
        self.assertEqual(probe.returncode, 0, probe.stderr)
        if probe.stdout.strip() != "True":
            self.skipTest("the wheel's keepalive has no set_system_defaults yet "
                          "(the Python binding is not merged)")
        done = self.in_ns(PYTHON, "-c", "import keepalive; "
                          "keepalive.set_system_defaults(idle=600, interval=20, count=4); "
                          "d = keepalive.system_defaults(); print(d.idle, d.interval, d.count)",
                          env=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), ["600", "20", "4"])
        self.assert_reads((600, 20, 4))
        # A bad value: ValueError, nothing written.
        done = self.in_ns(PYTHON, "-c", "import keepalive; keepalive.set_system_defaults(idle=0)",
                          env=env)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("ValueError", done.stderr)
        self.assertEqual(self.proc_values(), (600, 20, 4))
