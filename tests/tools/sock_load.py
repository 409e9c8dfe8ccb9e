"""Load on the responder (tests/integration, tests/stress).

    sock_load.py SERVER SECONDS CARES_THREADS GAI_THREADS

CARES_THREADS threads, each with its own c-ares channel (pycares) asking
SERVER for a claimed name (A: 127.0.10.1) and an unclaimed one (A:
127.0.20.1) in turn; GAI_THREADS threads calling getaddrinfo on the
claimed name. After a warm-up of a tenth of the run, and at the end, the
process's descriptors and RSS are sampled. Prints one line:

    answers N wrong W errors E fds A B rss_kb A B
"""
import os
import select
import socket
import sys
import threading
import time

import pycares

CLAIMED = ("dynamodb.us-east-1.amazonaws.com", "127.0.10.1")
PLAIN = ("www.plain.lab.test", "127.0.20.1")

lock = threading.Lock()
count = {"answers": 0, "wrong": 0, "errors": 0}


def tally(key, n=1):
    with lock:
        count[key] += n


def cares(server, end):
    ch = pycares.Channel(servers=[server], timeout=2.0, tries=2)
    k = 0
    while time.monotonic() < end:
        name, want = CLAIMED if k % 2 == 0 else PLAIN
        k += 1
        box = {}

        def cb(res, err):
            box["r"] = (res, err)
        ch.query(name, pycares.QUERY_TYPE_A, cb)
        while "r" not in box:
            r, w = ch.getsock()
            if not r and not w:
                break
            rl, wl, _ = select.select(r, w, [], ch.timeout() or 0.5)
            if not rl and not wl:
                ch.process_fd(pycares.ARES_SOCKET_BAD,
                              pycares.ARES_SOCKET_BAD)
            for fd in rl:
                ch.process_fd(fd, pycares.ARES_SOCKET_BAD)
            for fd in wl:
                ch.process_fd(pycares.ARES_SOCKET_BAD, fd)
        res, err = box.get("r", (None, -1))
        if err:
            tally("errors")
        elif sorted(x.host for x in res) == [want]:
            tally("answers")
        else:
            tally("wrong")
            print("WRONG", name, [x.host for x in res], file=sys.stderr)


def gai(end):
    while time.monotonic() < end:
        try:
            got = {a[4][0] for a in socket.getaddrinfo(
                CLAIMED[0], 443, socket.AF_INET, socket.SOCK_STREAM)}
        except OSError:
            tally("errors")
            continue
        tally("answers" if got == {CLAIMED[1]} else "wrong")


def sample():
    fds = len(os.listdir("/proc/self/fd"))
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return fds, rss


def main():
    server, secs = sys.argv[1], float(sys.argv[2])
    nc, ng = int(sys.argv[3]), int(sys.argv[4])
    end = time.monotonic() + secs
    ts = [threading.Thread(target=cares, args=(server, end))
          for _ in range(nc)]
    ts += [threading.Thread(target=gai, args=(end,)) for _ in range(ng)]
    for t in ts:
        t.start()
    time.sleep(secs / 10)
    a = sample()
    for t in ts:
        t.join()
    b = sample()
    print("answers %d wrong %d errors %d fds %d %d rss_kb %d %d" % (
        count["answers"], count["wrong"], count["errors"],
        a[0], b[0], a[1], b[1]))


if __name__ == "__main__":
    main()
