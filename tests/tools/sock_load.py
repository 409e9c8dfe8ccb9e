"""Load on the responder (tests/integration, tests/stress).

    sock_load.py SERVER SECONDS CARES_THREADS GAI_THREADS

CARES_THREADS threads, each with its own c-ares channel (pycares) asking
SERVER for a claimed name (A: 127.0.10.1) and an unclaimed one (A:
127.0.20.1) in turn; GAI_THREADS threads calling getaddrinfo on the
claimed name. The process's descriptors and RSS are sampled twice, each
time with every thread waiting at a barrier: after warm-up (every thread
has asked WARM questions, or its time is up) and at the end (every
thread done, its channel and sockets still open), so the two samples
count the same things whatever the load: never after a fixed time.
Prints one line:

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

WARM = 50
lock = threading.Lock()
count = {"answers": 0, "wrong": 0, "errors": 0}
# Set in main: every load thread is a party; the last to arrive takes
# the sample (the barrier's action) before any of them goes on.
warm = done = None
samples = []


def tally(key, n=1):
    with lock:
        count[key] += n


def cares(server, end):
    ch = pycares.Channel(servers=[server], timeout=2.0, tries=2)
    k = 0
    while time.monotonic() < end:
        if k == WARM:
            warm.wait()
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
    if k <= WARM:  # the loop ended before it waited
        warm.wait()
    done.wait()


def gai(end):
    k = 0
    while time.monotonic() < end:
        if k == WARM:
            warm.wait()
        k += 1
        try:
            got = {a[4][0] for a in socket.getaddrinfo(
                CLAIMED[0], 443, socket.AF_INET, socket.SOCK_STREAM)}
        except OSError:
            tally("errors")
            continue
        tally("answers" if got == {CLAIMED[1]} else "wrong")
    if k <= WARM:  # the loop ended before it waited
        warm.wait()
    done.wait()


def sample():
    fds = len(os.listdir("/proc/self/fd"))
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return fds, rss


def main():
    global warm, done
    server, secs = sys.argv[1], float(sys.argv[2])
    nc, ng = int(sys.argv[3]), int(sys.argv[4])
    end = time.monotonic() + secs
    ts = [threading.Thread(target=cares, args=(server, end))
          for _ in range(nc)]
    ts += [threading.Thread(target=gai, args=(end,)) for _ in range(ng)]
    warm = threading.Barrier(len(ts), action=lambda: samples.append(sample()))
    done = threading.Barrier(len(ts), action=lambda: samples.append(sample()))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a, b = samples
    print("answers %d wrong %d errors %d fds %d %d rss_kb %d %d" % (
        count["answers"], count["wrong"], count["errors"],
        a[0], b[0], a[1], b[1]))


if __name__ == "__main__":
    main()
