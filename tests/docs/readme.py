#!/usr/bin/env python3
"""The README's code blocks, run as printed, from where a user pastes them.

Every fenced block of README.md is run, or is marked as not runnable with
the reason, in an HTML comment on the line before it:

    <!-- readme-test: skip: REASON -->      not run (a transcript, a fragment, ...)
    <!-- readme-test: file=PATH [run=CMD dir=DIR] -->  the block is the file PATH
                                            (in the section's directory); with run=,
                                            CMD then runs in DIR (e.g. cargo run)
    <!-- readme-test: cwd=checkout ... -->   run from the checkout's top, not from a
                                            user's own project directory
    expect=RE   its output must match the regular expression RE (re.search, multiline)
    timeout=N   the block is still running after N s (a server, a client that
                waits): success if it printed and had not failed by then
    root        needs root (else SKIP, a failure under CI=true)
    cgroup      CGROUP is set to a fresh cgroup v2 directory made for the block

Blocks without a comment run as they are: `sh` with bash (-e), `python` with
the python of a fresh venv (target/readme-venv) into which the README's own
`pip install` block installs the wheel. Each `## ` section gets a fresh
directory, a user's project; `LIBKEEPALIVE` (which the README says to set) is
the checkout. File blocks without run= are written before the section's
commands run. A `console` or `text` block must be marked skip.

usage: readme.py --build BUILD   (prints PASS/FAIL/SKIP per block, then
"N passed, N failed"; exit 1 on a failure)
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
from support import skips  # noqa: E402

DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
# The Python clients the recipes block imports: a user of that recipe has them.
RECIPE_CLIENTS = ["httpx", "requests"]


class Block:
    def __init__(self, line, lang, text, directive, section):
        self.line, self.lang, self.text, self.section = line, lang, text, section
        self.skip = None
        self.opts = {}
        self.flags = set()
        if directive is None:
            return
        if directive.startswith("skip:"):
            self.skip = directive[len("skip:"):].strip()
            return
        for word in shlex.split(directive):
            if "=" in word:
                key, value = word.split("=", 1)
                self.opts[key] = value
            else:
                self.flags.add(word)

    def name(self):
        first = next((l for l in self.text.splitlines() if l.strip()), "")
        return f"README.md:{self.line} ({self.lang}) {first[:60]}"


def blocks(path):
    """The fenced blocks of a Markdown file, with their directives and sections."""
    found, section, directive = [], "", None
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = DIRECTIVE.match(line.strip())
        if line.startswith("## "):
            section = line[3:]
        if m:
            directive = m.group(1)
        elif line.startswith("```"):
            lang = line[3:].strip().split(",")[0]
            start = i + 1
            i += 1
            while not lines[i].startswith("```"):
                i += 1
            found.append(Block(start, lang, "\n".join(lines[start:i]) + "\n", directive, section))
            directive = None
        elif line.strip():
            directive = None
        i += 1
    return found


class Runner:
    def __init__(self, build, venv):
        self.build, self.venv = build, venv
        self.passed = self.failed = self.skipped = 0
        self.env = dict(os.environ, LIBKEEPALIVE=TOP,
                        PATH=f"{venv}/bin:{os.environ['PATH']}",
                        CARGO_TARGET_DIR=os.path.join(TOP, "target", "readme-cargo"),
                        VIRTUAL_ENV=venv)
        for var in ("PKG_CONFIG_PATH", "LD_PRELOAD", "KEEPALIVE", "KEEPIDLE", "KEEPINTVL",
                    "KEEPCNT", "KEEPALIVE_DEADLINE", "KEEPALIVE_USER_TIMEOUT_MS"):
            self.env.pop(var, None)

    def result(self, block, ok, output="", why=""):
        if ok is None:
            self.skipped += 1
            print(f"SKIP: {block.name()}: {why}")
        elif ok:
            self.passed += 1
            print(f"PASS: {block.name()}")
        else:
            self.failed += 1
            print(f"FAIL: {block.name()}{': ' + why if why else ''}")
            for l in output.splitlines()[-40:]:
                print(f"    {l}")

    def run(self, block, argv, cwd, env, timeout=None):
        """Runs argv; (ok, output). With timeout: ok when still running then."""
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                stdin=subprocess.DEVNULL)
        try:
            out, _ = proc.communicate(timeout=timeout or 600)
            return proc.returncode == 0 and timeout is None, out
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate()
            return timeout is not None and out.strip() != "", out

    def cgroup(self):
        """A fresh cgroup v2 directory, or (None, why)."""
        done = subprocess.run(["findmnt", "-n", "-t", "cgroup2", "-o", "TARGET"],
                              capture_output=True, text=True)
        mounts = done.stdout.split()
        if not mounts:
            return None, "no cgroup v2 mount (findmnt -t cgroup2)"
        # The attachment is pinned in the BPF filesystem: mounted where
        # systemd would have (as tests/cgroup/conftest.py does), unmounted after.
        self.mounted_bpf = False
        if not any(line.split()[2] == "bpf" for line in open("/proc/mounts")):
            subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
            self.mounted_bpf = True
        path = os.path.join(mounts[0], f"readme-test-{os.getpid()}")
        os.makedirs(path, exist_ok=True)
        return path, None

    def section_blocks(self, section_blocks):
        workdir = tempfile.mkdtemp(prefix="readme-")
        # One shell per section, as a user pastes one block after the other:
        # what an earlier block exported holds for the later ones.
        self.exports = ""
        try:
            # A user writes the files first, then runs the commands.
            for b in section_blocks:
                if b.skip is None and "file" in b.opts and "run" not in b.opts:
                    self.write(workdir, b)
            for b in section_blocks:
                self.one(b, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def write(self, workdir, block):
        path = os.path.join(workdir, block.opts["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(block.text)

    def one(self, b, workdir):
        if b.skip is not None:
            if not b.skip:
                self.result(b, False, why="marked skip without a reason")
            else:
                print(f"NOT RUN: {b.name()}: {b.skip}")
            return
        if b.lang in ("console", "text", ""):
            self.result(b, False, why=f"a {b.lang or 'plain'} block must be marked "
                        "`<!-- readme-test: skip: REASON -->`")
            return
        if "root" in b.flags and os.geteuid() != 0:
            self.result(b, None, why="needs root")
            return
        cwd = TOP if b.opts.get("cwd") == "checkout" else workdir
        env = dict(self.env)
        timeout = int(b.opts["timeout"]) if "timeout" in b.opts else None
        cgroup = None
        if "cgroup" in b.flags:
            cgroup, why = self.cgroup()
            if cgroup is None:
                self.result(b, None, why=why)
                return
            env["CGROUP"] = cgroup
        try:
            if "file" in b.opts:
                if "run" not in b.opts:
                    self.result(b, True)  # written; the section's commands use it
                    return
                self.write(workdir, b)
                run_dir = os.path.join(workdir, b.opts.get("dir", ""))
                ok, out = self.run(b, ["bash", "-c", b.opts["run"]], run_dir, env)
            elif b.lang == "sh":
                ok, out = self.run(b, ["bash", "-e", "-c", self.exports + b.text], cwd, env,
                                   timeout)
                self.exports += "".join(l + "\n" for l in b.text.splitlines()
                                        if l.startswith("export "))
            elif b.lang == "python":
                if "httpx" in b.text:
                    subprocess.run([f"{self.venv}/bin/python", "-m", "pip", "install", "-q",
                                    *RECIPE_CLIENTS], check=True)
                ok, out = self.run(b, [f"{self.venv}/bin/python", "-c", b.text], cwd, env)
            else:
                self.result(b, False, why=f"no way to run a {b.lang} block: give it file=/run= "
                            "or mark it skip with the reason")
                return
        finally:
            if cgroup:
                subprocess.run([os.path.join(self.build, "bin", "keepalive"), "cgroup", "detach",
                                cgroup], capture_output=True)
                os.rmdir(cgroup)
                if self.mounted_bpf:
                    subprocess.run(["umount", "/sys/fs/bpf"], check=False)
        if ok and "expect" in b.opts and not re.search(b.opts["expect"], out, re.M):
            self.result(b, False, out, why=f"output does not match {b.opts['expect']!r}")
            return
        self.result(b, ok, out)
        if ok and out.strip():
            for l in out.strip().splitlines()[-3:]:
                print(f"    | {l}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(TOP, "build"))
    parser.add_argument("--venv", default=os.path.join(TOP, "target", "readme-venv"))
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    if os.path.realpath(build) != os.path.realpath(os.path.join(TOP, "build")):
        print("readme.py: the README's commands use the checkout's build/; --build must be it")
        return 2
    # A fresh venv, as a user's: the README's pip block installs the wheel.
    shutil.rmtree(args.venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
    runner = Runner(build, args.venv)
    all_blocks = blocks(os.path.join(TOP, "README.md"))
    sections = []
    for b in all_blocks:
        if not sections or sections[-1][0] != b.section:
            sections.append((b.section, []))
        sections[-1][1].append(b)
    for name, section in sections:
        print(f"== README: {name or '(top)'}")
        runner.section_blocks(section)
    return skips.verdict(runner.passed, runner.failed, runner.skipped, "block")


if __name__ == "__main__":
    sys.exit(main())
