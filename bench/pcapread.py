"""Reads the packets of a classic pcap file (Ethernet framing, as tcpdump -w
writes it on a veth), for the reports of scale.sh and probes.sh. Only the
headers are needed, so a snap length of 64 bytes is enough: lengths come from
the IP header, not from what was captured.
"""

import socket
import struct
from typing import Iterator, NamedTuple

ACK, PSH, RST, SYN, FIN = 0x10, 0x08, 0x04, 0x02, 0x01


class Tcp(NamedTuple):
    time: float  # seconds since the epoch, as captured
    src: str  # "192.0.2.2:40000"
    dst: str
    seq: int
    flags: int
    payload: int  # bytes of TCP payload, from the IP total length


def tcp_packets(path: str) -> Iterator[Tcp]:
    """Yields every IPv4 TCP packet of the capture at path, in order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file (too short)")
    magic = struct.unpack_from("<I", data)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
        magic = struct.unpack_from(">I", data)[0]
    else:
        raise ValueError(f"{path}: not a pcap file")
    frac = 1e-9 if magic == 0xA1B23C4D else 1e-6
    if struct.unpack_from(endian + "I", data, 20)[0] != 1:
        raise ValueError(f"{path}: not an Ethernet capture")
    record = struct.Struct(endian + "IIII")
    off = 24
    while off + 16 <= len(data):
        sec, sub, incl, _ = record.unpack_from(data, off)
        p = off + 16
        off = p + incl
        # Ethernet (14) + IPv4 (20 or more) + the first 14 bytes of TCP.
        if incl < 48 or data[p + 12:p + 14] != b"\x08\x00" or data[p + 23] != 6:
            continue
        ihl = (data[p + 14] & 0x0F) * 4
        t = p + 14 + ihl
        if t + 14 > off:
            continue
        total = struct.unpack_from(">H", data, p + 16)[0]
        sport, dport, seq = struct.unpack_from(">HHI", data, t)
        doff = (data[t + 12] >> 4) * 4
        yield Tcp(sec + sub * frac,
                  f"{socket.inet_ntoa(data[p + 26:p + 30])}:{sport}",
                  f"{socket.inet_ntoa(data[p + 30:p + 34])}:{dport}",
                  seq, data[t + 13], total - ihl - doff)
