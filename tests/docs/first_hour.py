#!/usr/bin/env python3
"""A new user's first hour (issue 24), each promise checked for real:

- `make demo` builds only what it runs (the C library, not the workspace),
  quietly, and a second build prints nothing and rebuilds nothing;
- no Rust toolchain: as root, `make` installs Debian's cargo-web/rustc-web
  (their cargo then works, and is recent enough); a missing cargo otherwise
  gets a message naming what to install, and exit status 2;
- `make build-py` (part of `make build`) prints no `error:` line;
- the manual pages in build/share/man/man1 are those the tool generates now,
  and render without a warning; the docs are staged beside them;
- no placeholder URL (example.invalid) in what ships.

usage: first_hour.py --build BUILD   (prints PASS/FAIL/SKIP, then "N passed, N failed")
"""

import argparse
import filecmp
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
from support import skips  # noqa: E402

MAKE = os.environ.get("MAKE", "make")
results = {"passed": 0, "failed": 0, "skipped": 0}


def check(name, ok, detail=""):
    if ok is None:
        results["skipped"] += 1
        print(f"SKIP: {name}: {detail}")
    elif ok:
        results["passed"] += 1
        print(f"PASS: {name}")
    else:
        results["failed"] += 1
        print(f"FAIL: {name}")
        for line in str(detail).splitlines()[-30:]:
            print(f"    {line}")


def make(*args, env=None):
    done = subprocess.run([MAKE, "--no-print-directory", "-C", TOP, *args], capture_output=True,
                          text=True, env=env)
    return done.returncode, done.stdout + done.stderr


def demo_build(build):
    status, first = make("demo-build")
    check("make demo's build prints at most its progress lines",
          status == 0 and all(l.startswith("== ") for l in first.splitlines()), first)
    # Its log holds the commands it ran: one cargo build, of the C library's
    # crate alone (not the BPF loader, the tool or the wheel).
    with open(os.path.join(TOP, "target", "demo-build.log")) as f:
        log = f.read()
    cargo = [l for l in log.splitlines() if re.search(r"\bcargo build\b", l)]
    check("make demo builds the C library's crate only (cargo build --release -p keepalive-ffi)",
          len(cargo) == 1 and "-p keepalive-ffi" in cargo[0] and "--workspace" not in cargo[0],
          "\n".join(cargo) or log)
    watched = [os.path.join(build, "bin", p) for p in ("tcp_keepalive_client", "tcp_keepalive_server")]
    watched += [os.path.join(build, "include", "keepalive.h"),
                os.path.join(build, "lib", "libkeepalive.so.1"),
                os.path.join(build, "lib", "pkgconfig", "keepalive.pc")]
    before = {p: os.stat(p).st_mtime_ns for p in watched}
    status, second = make("demo-build")
    after = {p: os.stat(p).st_mtime_ns for p in watched}
    changed = [p for p in watched if before[p] != after[p]]
    check("a second make demo build prints nothing and rebuilds nothing",
          status == 0 and second == "" and not changed,
          f"output: {second!r}\nrebuilt: {changed}")


def toolchain():
    status, out = make("rust-toolchain", "CARGO=/nonexistent/cargo")
    check("no cargo: make names what to install (Debian's cargo-web, or rustup) and stops",
          status == 2 and "cargo-web rustc-web" in out and "rustup" in out, out)
    if os.geteuid() != 0:
        check("as root without cargo, make installs Debian's cargo-web", None, "needs root")
        return
    if not os.path.exists("/etc/debian_version"):
        check("as root without cargo, make installs Debian's cargo-web", None, "not Debian")
        return
    # Only the system's directories on PATH: no rustup. make installs
    # cargo-web when /usr/bin/cargo is missing (the first time on a fresh
    # machine), and its cargo must then build this workspace (1.87+).
    env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    status, out = make("rust-toolchain", env=env)
    version = subprocess.run(["/usr/bin/cargo", "--version"], capture_output=True, text=True,
                             env=env) if os.path.exists("/usr/bin/cargo") else None
    m = re.match(r"cargo 1\.(\d+)", version.stdout if version else "")
    check("as root with no cargo on PATH, make installs Debian's cargo (1.87 or later)",
          status == 0 and m is not None and int(m.group(1)) >= 87,
          f"{out}\n{version.stdout if version else 'no /usr/bin/cargo'}")


def no_error_line():
    status, out = make("build-py")
    errors = [l for l in out.splitlines() if re.search(r"(?i)\berror:", l)]
    check("make build-py succeeds without a line saying error:", status == 0 and not errors,
          "\n".join(errors) or out)


def man_pages(build):
    man1 = os.path.join(build, "share", "man", "man1")
    pages = sorted(glob.glob(os.path.join(man1, "*.1")))
    names = [os.path.basename(p) for p in pages]
    check("manual pages staged: keepalive, each subcommand, keepalive-run",
          {"keepalive.1", "keepalive-show.1", "keepalive-set.1", "keepalive-run.1",
           "keepalive-cgroup-attach.1", "keepalive-defaults.1"} <= set(names), names)
    fresh = tempfile.mkdtemp(prefix="keepalive-man-")
    try:
        subprocess.run([os.path.join(build, "bin", "keepalive"), "generate-man", fresh], check=True)
        cmp = filecmp.dircmp(man1, fresh)
        check("the staged pages are what the command-line definitions generate now",
              not (cmp.diff_files or cmp.left_only or cmp.right_only),
              f"differ: {cmp.diff_files} only staged: {cmp.left_only} only new: {cmp.right_only}")
    finally:
        shutil.rmtree(fresh)
    if shutil.which("man") is None:
        check("every page renders with man, without a warning", None, "man (man-db) is missing")
    else:
        bad = []
        for page in pages:
            done = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                                  env=dict(os.environ, MANWIDTH="80", MAN_KEEP_STDERR="1"))
            if done.returncode != 0 or done.stderr.strip() or "NAME" not in done.stdout:
                bad.append(f"{os.path.basename(page)}: {done.stderr.strip()}")
        check(f"every page renders with man, without a warning ({len(pages)} pages)", not bad,
              "\n".join(bad))
    help_text = subprocess.run([os.path.join(build, "bin", "keepalive"), "--help"],
                               capture_output=True, text=True).stdout
    doc = os.path.join(build, "share", "doc", "libkeepalive")
    check("keepalive --help points to docs that are installed (share/doc/libkeepalive)",
          "share/doc/libkeepalive/docs/" in help_text
          and os.path.exists(os.path.join(doc, "docs", "operator.md"))
          and os.path.exists(os.path.join(doc, "README.md")), help_text)


def no_placeholder_urls(build):
    shipped = [os.path.join(TOP, "Cargo.toml"), os.path.join(TOP, "python", "pyproject.toml"),
               os.path.join(TOP, "crates", "keepalive-ffi", "keepalive.pc.in"),
               os.path.join(build, "lib", "pkgconfig", "keepalive.pc"), os.path.join(TOP, "README.md")]
    shipped += glob.glob(os.path.join(TOP, "crates", "*", "Cargo.toml"))
    hits = [f for f in shipped if os.path.exists(f) and "example.invalid" in open(f).read()]
    check("no example.invalid URL in the manifests, keepalive.pc or the README", not hits, hits)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(TOP, "build"))
    build = os.path.abspath(parser.parse_args().build)
    demo_build(build)
    toolchain()
    no_error_line()
    man_pages(build)
    no_placeholder_urls(build)
    return skips.verdict(results["passed"], results["failed"], results["skipped"])


if __name__ == "__main__":
    sys.exit(main())
