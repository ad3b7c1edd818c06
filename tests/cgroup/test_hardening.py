"""`keepalive cgroup` under attack and under a crash (issue 20, items 2-5).

Another user's directories in the BPF filesystem, a lock held by anyone,
and an attach killed at each of its bpf(2) calls (strace injects SIGKILL):
after each, `list` must report what the kernel says, and no prefix of an
attach may be reported as anything it is not. Run as root (conftest.py).
"""

import json
import os
import subprocess
import time

from support.host import why_no_command
from support.skips import needs
from test_cgroup import CTL, POLICY, CgroupCase, bpffs, ctl, probe, settings_of

NOBODY = 65534


def top():
    return os.path.join(bpffs(), "keepalive")


class TestPinDirectories(CgroupCase):
    def setUp(self):
        # No policy is attached anywhere else while these run (the test
        # cgroups are our own): the top directory is ours to replace.
        if os.path.isdir(top()) and not os.path.islink(top()) and os.listdir(top()):
            self.skipTest(f"{top()} holds other policies: {os.listdir(top())}")
        if os.path.lexists(top()):
            os.rmdir(top())
        super().setUp()
        self.cleanups.append(self.unplant)

    def unplant(self):
        """Removes what the test planted (and only that), its policy first."""
        ctl("detach", self.cg, check=False)
        if os.path.islink(top()):
            os.unlink(top())
        elif os.path.isdir(top()):
            mine = os.path.join(top(), f"cgroup-{self.cg_id()}")
            if os.path.islink(mine):
                os.unlink(mine)
            elif os.path.isdir(mine):
                os.rmdir(mine)
            if not os.listdir(top()):
                os.rmdir(top())

    def refused(self, why):
        done = ctl("attach", self.cg, "-D", "5", check=False)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("refusing to use it: " + why, done.stderr)
        self.assertEqual(self.programs(), [])
        return done.stderr

    def test_another_user_s_directory_is_refused(self):
        # What an unprivileged user can make first in a bpffs mounted 1777.
        os.mkdir(top(), 0o700)
        os.chown(top(), NOBODY, NOBODY)
        err = self.refused(f"it belongs to uid {NOBODY}, not to uid 0")
        self.assertIn(f"remove it (`rm -r {top()}`)", err)
        # And one level down, in root's own top directory.
        os.rmdir(top())
        os.mkdir(top(), 0o700)
        mine = os.path.join(top(), f"cgroup-{self.cg_id()}")
        os.mkdir(mine, 0o700)
        os.chown(mine, NOBODY, NOBODY)
        self.refused(f"it belongs to uid {NOBODY}, not to uid 0")
        self.assertEqual(os.stat(mine).st_uid, NOBODY, "nothing was changed")

    def test_a_directory_others_may_write_is_refused(self):
        os.mkdir(top())
        os.chmod(top(), 0o777)
        self.refused("it is mode 0777: others may have changed what is in it")

    def test_a_symlink_is_refused(self):
        elsewhere = os.path.join(bpffs(), f"ka-test-elsewhere-{os.getpid()}")
        os.mkdir(elsewhere, 0o700)
        self.cleanups.append(lambda: os.rmdir(elsewhere))
        os.symlink(elsewhere, top())
        self.refused("it is a symbolic link")
        self.assertEqual(os.listdir(elsewhere), [])
        os.unlink(top())
        os.mkdir(top(), 0o700)
        os.symlink(elsewhere, os.path.join(top(), f"cgroup-{self.cg_id()}"))
        self.refused("it is a symbolic link")
        self.assertEqual(os.listdir(elsewhere), [])

    def test_directories_are_0700_under_umask_000(self):
        done = subprocess.run(["sh", "-c", 'umask 000 && exec "$@"', "sh", *CTL, "attach",
                               self.cg, "-D", "5"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        for path in (top(), os.path.join(top(), f"cgroup-{self.cg_id()}")):
            st = os.lstat(path)
            self.assertEqual((oct(st.st_mode & 0o7777), st.st_uid), (oct(0o700), 0), path)
        # A directory of ours that others may only read (0755, as an older
        # release made it under umask 022) is narrowed to 0700.
        ctl("detach", self.cg)
        os.mkdir(top())
        os.chmod(top(), 0o755)
        ctl("list")
        self.assertEqual(oct(os.stat(top()).st_mode & 0o7777), oct(0o755), "list changes nothing")
        self.attach("-D", "5")
        self.assertEqual(oct(os.stat(top()).st_mode & 0o7777), oct(0o700))

    def test_an_unprivileged_user_cannot_list_or_move_the_pins(self):
        self.attach("-D", "5")
        pins = os.path.join(top(), f"cgroup-{self.cg_id()}")
        moved = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                "--clear-groups", "mv", pins, pins + "-moved"],
                               capture_output=True, text=True)
        self.assertNotEqual(moved.returncode, 0)
        self.assertTrue(os.path.isdir(pins))
        self.assertIn(self.cg, ctl("list").stdout)
        listed = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                 "--clear-groups", *CTL, "list"], capture_output=True, text=True)
        self.assertEqual(listed.returncode, 1, listed.stdout + listed.stderr)
        self.assertIn("Permission denied", listed.stderr)


def wait_held(path):
    """Returns once another process holds the flock on path (flock
    --nonblock is refused then): a readiness poll, not a guessed sleep."""
    deadline = time.monotonic() + 10
    while subprocess.run(["flock", "--nonblock", path, "true"]).returncode == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"nobody took the lock on {path} in 10 s")
        time.sleep(0.01)


class TestLock(CgroupCase):
    def test_a_user_s_flock_on_the_cgroup_does_not_stall_attach(self):
        # Anyone may open a cgroup directory and flock it.
        holder = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                   "--clear-groups", "flock", "--exclusive", "--no-fork", self.cg,
                                   "sleep", "120"])
        self.cleanups.append(lambda: (holder.kill(), holder.wait()))
        wait_held(self.cg)
        self.assertIsNone(holder.poll(), "the user's flock is held")
        start = time.monotonic()
        self.attach("-D", "5")
        ctl("detach", self.cg)
        self.assertLess(time.monotonic() - start, 30)

    def test_a_held_lock_is_waited_for_within_bounds(self):
        self.attach("-d", "600")
        # Another root process in the middle of an attach: holds the lock.
        holder = subprocess.Popen(["flock", "--exclusive", "--no-fork", top(), "sleep", "120"])
        self.cleanups.append(lambda: (holder.kill(), holder.wait()))
        wait_held(top())
        for args in (["attach", self.cg, "-D", "5"], ["detach", self.cg], ["prune"]):
            with self.subTest(args[0]):
                done = ctl(*args, check=False)
                self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
                self.assertIn(f"has held the lock on {top()} for 5 s; nothing was changed",
                              done.stderr)
        # list takes no lock.
        self.assertRegex(ctl("list").stdout, self.cg + r"\s+on 600/-/- -")
        holder.kill()
        holder.wait()
        self.attach("-D", "5")
        self.assertIn(self.cg, ctl("list").stdout)


def map_enforce(pins):
    """The enforce field of the pinned policy map, read by bpftool (0
    where no map is pinned)."""
    if not os.path.exists(os.path.join(pins, "policy")):
        return 0
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                          os.path.join(pins, "policy")],
                         capture_output=True, text=True, check=True).stdout
    entry = json.loads(out)[0]
    if "formatted" in entry:
        return entry["formatted"]["value"]["enforce"]
    if isinstance(entry.get("value"), dict):
        return entry["value"]["enforce"]
    return int.from_bytes(bytes(int(b, 16) for b in entry["value"][4:8]), "little")


@needs(why_no_command("strace", "strace: it kills an attach midway"))
class TestCrash(CgroupCase):
    """An attach killed at its Nth bpf(2) call, for every N; then `list`
    must say what the kernel has: a row exactly when the pins are there,
    `attached` exactly when the sock_ops program is, `enforce` exactly when
    the map says so and the setsockopt program is attached, and never the
    map enforcing without the setsockopt program."""

    def crash_at(self, n, args, syscall="bpf"):
        done = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
                               "-e", f"inject={syscall}:signal=KILL:when={n}",
                               *CTL, "attach", self.cg, *args],
                              capture_output=True, text=True, timeout=60)
        return done.returncode

    def check_truth(self, where):
        pins = os.path.join(top(), f"cgroup-{self.cg_id()}")
        rows = [r for r in json.loads(ctl("list", "--json").stdout)
                if r["cgroup_id"] == self.cg_id()]
        programs = self.programs()
        if not os.path.isdir(pins):
            self.assertEqual((rows, programs), ([], []), where)
            return None
        self.assertEqual(len(rows), 1, where)
        row = rows[0]
        enforce = map_enforce(pins)
        self.assertEqual(row["state"] == "attached", "keepalive_sockops" in programs,
                         f"{where}: {row} {programs}")
        self.assertEqual(row["enforce"], bool(enforce) and "keepalive_setsockopt" in programs,
                         f"{where}: {row} {programs} map enforce {enforce}")
        if enforce:
            self.assertIn("keepalive_setsockopt", programs, f"{where}: the map enforces alone")
        if "keepalive_sockops" not in programs:
            self.assertEqual(row["state"], "not-attached", where)
        return row

    def every_crash(self, args, before=()):
        n = 0
        states = set()
        while True:
            n += 1
            self.assertLess(n, 200, "an attach of fewer than 200 bpf calls")
            if before:
                self.attach(*before)
            status = self.crash_at(n, args)
            row = self.check_truth(f"killed at bpf call {n} of attach {' '.join(args)}")
            states.add(row and (row["state"], row["enforce"]))
            if status == 0:  # ran to its end: n passed its last call
                self.assertEqual(row["state"], "attached")
                break
            self.assertIn(status, (-9, 137), f"killed at call {n}")
            # Attaching again after a crash completes and is reported.
            self.attach(*args)
            self.check_truth(f"attach again after a kill at call {n}")
            ctl("detach", self.cg)
            self.assertEqual(self.programs(), [])
        ctl("detach", self.cg)
        print(f"\n    attach {' '.join(args)}{' over ' + ' '.join(before) if before else ''}: "
              f"killed at each of its {n - 1} bpf calls, list true each time", end=" ... ",
              flush=True)
        return n, states

    def test_a_fresh_attach_killed_at_every_call(self):
        n, states = self.every_crash(["-D", "5", "--enforce"])
        # Every stage was seen: nothing, not attached, attached unenforced, enforced.
        self.assertEqual(states, {None, ("not-attached", False), ("attached", False),
                                  ("attached", True)}, n)
        self.assertIn(self.crash_at(1, ["-D", "5"], syscall="renameat2"), (-9, 137))
        self.check_truth("killed at the rename")
        self.assertEqual(ctl("prune").returncode, 0)
        self.assertEqual(os.listdir(top()) if os.path.exists(top()) else [], [])

    def test_a_replacing_attach_killed_at_every_call(self):
        self.every_crash(["-D", "5", "--enforce"], before=["-D", "60"])
        self.every_crash(["-D", "5"], before=["-D", "60", "--enforce"])
        self.attach("-D", "5", "--enforce")
        argv = [probe("probe-c-static"), "connect", self.listener.addr, "--idle", "600"]
        self.assertEqual(settings_of(argv, cgroup=self.cg), POLICY)
