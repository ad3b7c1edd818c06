"""Checks that a venv holds exactly the versions a hash-pinned requirements
file names (python/build-requirements.txt): every pinned distribution is
installed at its pinned version. Exits 1 naming each difference.

usage: VENV/bin/python mk/py-pins.py REQUIREMENTS
"""
from __future__ import annotations

import re
import sys
from importlib import metadata


def pins(path: str) -> dict[str, str]:
    """name -> version of every `name==version` line (names normalised)."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\;]+)", line)
            if m:
                out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def main() -> int:
    wanted = pins(sys.argv[1])
    if not wanted:
        print(f"{sys.argv[1]}: no name==version pins", file=sys.stderr)
        return 1
    have = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version
            for d in metadata.distributions()}
    wrong = [f"{name}: pinned {version}, installed {have.get(name, 'nothing')}"
             for name, version in sorted(wanted.items()) if have.get(name) != version]
    for line in wrong:
        print(f"py-pins: {line}", file=sys.stderr)
    if wrong:
        return 1
    print(f"== {len(wanted)} build tools installed exactly as pinned (with hashes) in {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
