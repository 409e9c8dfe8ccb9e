"""HTTP load for tests/integration/77-ops-upstream-health.sh.

load.py PORT OUT STOPFILE THREADS CACHED_NAME UNCACHED_SUFFIX
THREADS clients, each cycling through a request for CACHED_NAME, one for
a name never asked before (uN-K-I.UNCACHED_SUFFIX) and one for a name
never asked before that a deny rule refuses (dN-K-I.denied.test: the
work of an uncached lookup without any network, the timing baseline),
20 ms apart, until STOPFILE exists. One line per request, appended to OUT as it completes:
"START END KIND PID MS RESULT" (wall-clock seconds; KIND c, u or d; PID, MS,
RESULT as the app answered).
"""
import http.client
import os
import sys
import threading
import time

port, out, stop, nthreads, cached, suffix = sys.argv[1:7]
lock = threading.Lock()
f = open(out, "a", buffering=1)


def client(k):
    i = 0
    while not os.path.exists(stop):
        i += 1
        if i % 3 == 1:
            kind, name = "c", cached
        elif i % 3 == 2:
            kind, name = "u", "u%d-%d-%d.%s" % (os.getpid(), k, i, suffix)
        else:
            kind, name = "d", "d%d-%d-%d.denied.test" % (os.getpid(), k, i)
        t0 = time.time()
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
            c.request("GET", "/?" + name)
            body = c.getresponse().read().decode().strip()
            c.close()
        except Exception as e:  # a failed request is a result too
            body = "0 0 exc:%s" % type(e).__name__
        t1 = time.time()
        with lock:
            f.write("%.6f %.6f %s %s\n" % (t0, t1, kind, body))
        time.sleep(0.02)


ts = [threading.Thread(target=client, args=(k,)) for k in range(int(nthreads))]
for t in ts:
    t.start()
for t in ts:
    t.join()
