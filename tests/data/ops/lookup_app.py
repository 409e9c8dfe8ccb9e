"""WSGI app for tests/integration/77-ops-upstream-health.sh.

GET /?NAME resolves NAME (getaddrinfo, AF_INET, port 443) in the worker
and answers "PID MS RESULT": RESULT is ok:ADDRESS or err:EAI_CODE, MS the
time getaddrinfo took. At import (gunicorn --preload: in the master,
before the workers fork) it resolves $OPS_WARM so that every worker
inherits it in pindns's cache.
"""
import os
import socket
import time

if os.environ.get("OPS_WARM"):
    socket.getaddrinfo(os.environ["OPS_WARM"], 443, socket.AF_INET,
                       socket.SOCK_STREAM)


def app(environ, start_response):
    name = environ.get("QUERY_STRING", "")
    t0 = time.perf_counter()
    try:
        r = socket.getaddrinfo(name, 443, socket.AF_INET, socket.SOCK_STREAM)
        res = "ok:" + r[0][4][0]
    except socket.gaierror as e:
        res = "err:%d" % e.errno
    ms = (time.perf_counter() - t0) * 1000
    body = ("%d %.3f %s\n" % (os.getpid(), ms, res)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
