#!/usr/bin/env python3
"""Load generator for `c2atlas collect`: sends IPFIX over UDP to 127.0.0.1:PORT.

Each message holds 30 flow records (1,400-byte datagrams, like a router's
export) of one template (src/dst IPv4, ports, protocol, packets, bytes,
flowStart/EndMilliseconds), re-sent in every 100th message. Sequence numbers
are correct, so the collector's own loss counters can be checked against
what was sent. Prints datagrams, records, seconds and records/s sent.

usage: collect_load.py PORT SECONDS
"""
import socket
import struct
import sys
import time

PER = 30
port, seconds = int(sys.argv[1]), float(sys.argv[2])
fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 8), (1, 8), (152, 8), (153, 8)]
tmpl = struct.pack(">HH", 256, len(fields)) + b"".join(struct.pack(">HH", a, b) for a, b in fields)
tset = struct.pack(">HH", 2, 4 + len(tmpl)) + tmpl
bodies = []
for m in range(64):
    recs = b"".join(
        bytes([10, 0, m, i]) + bytes([198, 51, 100, (m * PER + i) % 256])
        + struct.pack(">HHBQQQQ", 40000 + i, 443, 6, 3, 1500, 1700000000000 + i, 1700000000500 + i)
        for i in range(PER)
    )
    bodies.append(struct.pack(">HH", 256, 4 + len(recs)) + recs)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
dst = ("127.0.0.1", port)
seq, n = 0, 0
start = time.time()
end = start + seconds
while time.time() < end:
    for k in range(1000):
        body = bodies[n % 64]
        sets = (tset + body) if n % 100 == 0 else body
        msg = struct.pack(">HHIII", 10, 16 + len(sets), int(start), seq, 0) + sets
        try:
            s.sendto(msg, dst)
        except OSError:
            continue
        seq = (seq + PER) & 0xFFFFFFFF
        n += 1
el = time.time() - start
print(f"sent {n} datagrams, {n * PER} records in {el:.2f} s ({n * PER / el:.0f} records/s)")
