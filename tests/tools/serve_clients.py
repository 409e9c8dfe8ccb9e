#!/usr/bin/python3
"""Clients for tests/integration/85-serve.sh: odd, hostile and loading
clients of a DNS server (dnspython builds the messages).

    serve_clients.py odd ADDR PORT          one line per odd query
    serve_clients.py pipeline ADDR PORT N   N queries in one TCP write
    serve_clients.py frames ADDR PORT       bad TCP frames, then a query
    serve_clients.py slowloris ADDR PORT N SECONDS
    serve_clients.py hold ADDR PORT N READY_FILE RELEASE_FILE
    serve_clients.py flood ADDR PORT SOCKETS SECONDS QPS NAME...
                                            (QPS 0: as fast as it can)
    serve_clients.py load ADDR PORT SECONDS NAME [STOP_FILE]
"""
import os
import random
import select
import socket
import struct
import sys
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_ask(addr, port, wire, timeout=2.0):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(wire, (addr, port))
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def describe(wire):
    if wire is None:
        return "none"
    try:
        m = dns.message.from_wire(wire)
    except Exception as e:  # noqa: BLE001 - any unreadable reply
        return "unreadable(%s)" % type(e).__name__
    ede = ""
    for o in m.options:
        if o.otype == dns.edns.EDE:
            ede = " ede=%d" % o.code
    return "%s qd=%d%s" % (dns.rcode.to_text(m.rcode()), len(m.question), ede)


def q(name, rdtype="A", edns=True):
    return dns.message.make_query(name, rdtype, use_edns=0 if edns else None)


# Bytes no DNS parser can read as a message: a query header whose four
# counts claim 65,535 records each, then 0xff (a label length no name may
# have). Never random: random bytes are now and then a readable message,
# which is REFUSED, not dropped (a test that fails one run in a few).
GARBAGE = struct.pack("!HHHHHH", 0x4242, 0x0100, 0xffff, 0xffff, 0xffff,
                      0xffff) + b"\xff" * 300


def odd(addr, port):
    two = q("dynamodb.us-east-1.amazonaws.com")
    two.question.append(dns.rrset.RRset(
        dns.name.from_text("www.plain.lab.test"), dns.rdataclass.IN,
        dns.rdatatype.A))
    reply = q("dynamodb.us-east-1.amazonaws.com")
    reply.flags |= dns.flags.QR
    hdr0 = struct.pack("!HHHHHH", 0x1234, 0x0100, 0, 0, 0, 0)
    cases = [
        ("garbage", GARBAGE[:40]),
        ("empty", b""),
        ("header-only", hdr0),
        ("zero-questions", hdr0 + b"\x00\x00\x01\x00\x01"),
        ("two-questions", two.to_wire()),
        ("reply", reply.to_wire()),
        ("cut", q("dynamodb.us-east-1.amazonaws.com").to_wire()[:20]),
    ]
    for label, wire in cases:
        print("%s: %s" % (label, describe(udp_ask(addr, port, wire, 1.0))))


def tcp_connect(addr, port, timeout=5.0):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    return s


def recv_frame(s):
    hdr = b""
    while len(hdr) < 2:
        b = s.recv(2 - len(hdr))
        if not b:
            return None
        hdr += b
    n = struct.unpack("!H", hdr)[0]
    body = b""
    while len(body) < n:
        b = s.recv(n - len(body))
        if not b:
            return None
        body += b
    return body


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def pipeline(addr, port, n):
    s = tcp_connect(addr, port)
    msgs = [q("dynamodb.us-east-1.amazonaws.com") if i % 2 == 0 else
            q("www.plain.lab.test") for i in range(n)]
    # Distinct IDs: answers are matched to questions by ID, and n random
    # ones collide now and then (20 of 16 bits: 1 run in 350), which read
    # as a question left unanswered.
    base = msgs[0].id
    for i, m in enumerate(msgs):
        m.id = (base + i) % 65536
    s.sendall(b"".join(frame(m.to_wire()) for m in msgs))
    ids = set()
    got = 0
    closed = False
    for _ in range(n):
        r = recv_frame(s)
        if r is None:
            closed = True
            break
        got += 1
        ids.add(dns.message.from_wire(r).id)
    s.close()
    out = "answered %d of %d" % (len(ids & {m.id for m in msgs}), n)
    if got < n or len(ids) < n:
        out += " (%d replies, %d IDs%s)" % (
            got, len(ids), ", then the connection closed" if closed else "")
    print(out)


def frames(addr, port):
    good = frame(q("dynamodb.us-east-1.amazonaws.com").to_wire())
    cases = [
        ("huge-declared", struct.pack("!H", 65535) + GARBAGE[:100]),
        ("zero-length", struct.pack("!H", 0)),
        ("garbage-frame", frame(GARBAGE[:300])),
        ("cut-frame", good[:10]),
    ]
    for label, data in cases:
        s = tcp_connect(addr, port, 3.0)
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
            r = recv_frame(s)
            print("%s: %s" % (label, "closed" if r is None else describe(r)))
        except (socket.timeout, ConnectionError) as e:
            print("%s: %s" % (label, type(e).__name__))
        s.close()


def slowloris(addr, port, n, seconds):
    """Connections that send a valid frame one byte at a time, slowly."""
    data = frame(q("dynamodb.us-east-1.amazonaws.com").to_wire())
    conns = []
    for _ in range(n):
        try:
            conns.append(tcp_connect(addr, port))
        except OSError:
            break
    t0 = time.monotonic()
    closed_at = []
    i = 0
    while conns and time.monotonic() - t0 < seconds:
        for s in list(conns):
            try:
                s.send(data[i % (len(data) - 1):i % (len(data) - 1) + 1])
                r, _, _ = select.select([s], [], [], 0)
                if r and not s.recv(1):
                    raise ConnectionError
            except OSError:
                closed_at.append(time.monotonic() - t0)
                conns.remove(s)
                s.close()
        i += 1
        time.sleep(0.5)
    for s in conns:
        s.close()
    print("closed %d of %d, last at %.1f s" % (
        len(closed_at), n, max(closed_at) if closed_at else -1))


def hold(addr, port, n, ready, release):
    conns = []
    for _ in range(n):
        try:
            conns.append(tcp_connect(addr, port, 2.0))
        except OSError:
            break
    with open(ready, "w") as f:
        f.write("%d\n" % len(conns))
    t0 = time.monotonic()
    while not os.path.exists(release) and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    for s in conns:
        s.close()


def flood(addr, port, nsock, seconds, qps, names):
    socks = []
    for _ in range(nsock):
        s = socket.socket(fam(addr), socket.SOCK_DGRAM)
        s.setblocking(False)
        socks.append(s)
    wires = [q(n).to_wire() for n in names]
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < seconds:
        if qps > 0:
            ahead = sent / qps - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        for s in socks:
            w = bytearray(random.choice(wires))
            w[0:2] = os.urandom(2)
            try:
                s.sendto(bytes(w), (addr, port))
                sent += 1
            except BlockingIOError:
                pass
            try:
                while s.recv(65535):
                    pass
            except BlockingIOError:
                pass
    for s in socks:
        s.close()
    print("sent %d" % sent)


def load(addr, port, seconds, name, stop=None):
    t0 = time.monotonic()
    got = lost = 0
    rcodes = {}
    while time.monotonic() - t0 < seconds:
        if stop and os.path.exists(stop):
            break
        r = udp_ask(addr, port, q(name).to_wire(), 3.0)
        if r is None:
            lost += 1
            continue
        got += 1
        k = dns.rcode.to_text(dns.message.from_wire(r).rcode())
        rcodes[k] = rcodes.get(k, 0) + 1
    print("answered=%d lost=%d %s" % (got, lost, " ".join(
        "%s=%d" % kv for kv in sorted(rcodes.items()))))


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        sys.exit(__doc__)
    mode, addr, port = a[0], a[1], int(a[2])
    if mode == "odd":
        odd(addr, port)
    elif mode == "pipeline":
        pipeline(addr, port, int(a[3]))
    elif mode == "frames":
        frames(addr, port)
    elif mode == "slowloris":
        slowloris(addr, port, int(a[3]), float(a[4]))
    elif mode == "hold":
        hold(addr, port, int(a[3]), a[4], a[5])
    elif mode == "flood":
        flood(addr, port, int(a[3]), float(a[4]), float(a[5]), a[6:])
    elif mode == "load":
        load(addr, port, float(a[3]), a[4], a[5] if len(a) > 5 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
