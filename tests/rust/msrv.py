#!/usr/bin/env python3
"""Each workspace crate's `rust-version` against what it really needs.

A crate cannot build on a Rust older than any crate it depends on: for every
workspace member, the rust-version of each package in its dependency closure
(normal and build dependencies, every platform's, as locked in Cargo.lock) is
a floor, and the member's own number must be at least the highest of them.
The crates' own code is held to their number by clippy's incompatible_msrv
lint (part of `cargo clippy -- -D warnings`), which refuses a standard library
item newer than it. Where rustup has a toolchain of exactly that version, the
crate is also checked with it (`cargo +1.xx check`); otherwise a note says so
(an extra where a toolchain is at hand, not a test skipped).

usage: python3 tests/rust/msrv.py   (from anywhere; prints "N passed, N failed")
"""

import json
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def version(text):
    """(1, 87, 0) for "1.87" and "1.87.0" alike."""
    parts = [int(part) for part in text.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=TOP, check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    deps = {n["id"]: n["deps"] for n in meta["resolve"]["nodes"]}
    toolchains = ""
    if shutil.which("rustup"):
        toolchains = subprocess.run(["rustup", "toolchain", "list"],
                                    capture_output=True, text=True).stdout
    passed = failed = 0
    for member in meta["workspace_members"]:
        pkg = packages[member]
        name, own = pkg["name"], pkg.get("rust_version")
        floor, why = (0, 0, 0), "no dependency declares one"
        seen, stack = set(), [member]
        while stack:
            for dep in deps[stack.pop()]:
                if all(k["kind"] == "dev" for k in dep["dep_kinds"]) or dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
                theirs = packages[dep["pkg"]].get("rust_version")
                if theirs and version(theirs) > floor:
                    floor, why = version(theirs), f"{packages[dep['pkg']]['name']} needs {theirs}"
        if own is None:
            print(f"FAIL: {name} declares no rust-version ({why})")
            failed += 1
        elif version(own) < floor:
            print(f"FAIL: {name} says rust-version {own}, but {why}")
            failed += 1
        else:
            print(f"PASS: {name} rust-version {own} (dependencies: {why})")
            passed += 1
        installed = [line.split("-")[0] for line in toolchains.splitlines()]
        if own and any(t and version(t) == version(own) for t in installed if t[0].isdigit()):
            done = subprocess.run(["cargo", f"+{own}", "check", "-p", name, "--quiet"], cwd=TOP)
            if done.returncode == 0:
                print(f"PASS: {name} builds with Rust {own}")
                passed += 1
            else:
                print(f"FAIL: {name} does not build with Rust {own}")
                failed += 1
        elif own:
            print(f"  ({name} not also built with Rust {own}: no rustup toolchain {own} here)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
