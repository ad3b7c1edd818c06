"""What every `keepalive watch` test needs (test_watch.py): root, a kernel
with BTF, nft (it cuts a host off) and network namespaces; where one is
missing every test is skipped saying why (a failure under CI=true)."""

import pytest

from support import host, netlab, skips


@pytest.fixture(scope="session", autouse=True)
def watch_host():
    skips.require(skips.first(
        host.why_no_root("a BPF program on a tracepoint, network namespaces"),
        host.why_no_btf(),
        host.why_no_command("nft", "nftables"),
        netlab.why_no_lab()))
