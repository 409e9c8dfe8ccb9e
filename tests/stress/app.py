"""WSGI app for the gunicorn load test: one protected lookup per request.

GET /        getaddrinfo(HD_NAME, 443) must give exactly HD_WANT (a comma
             list): 200 "ok", else 500 with what came (wrk counts non-2xx)
GET /stats   this worker's pid, VmRSS (kB) and open descriptors
"""
import os
import socket

NAME = os.environ.get("HD_NAME", "dynamodb.us-east-1.amazonaws.com")
WANT = set(os.environ.get("HD_WANT", "127.0.10.1").split(","))


def stats():
    rss = -1
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return "pid %d rss_kb %d fds %d\n" % (os.getpid(), rss,
                                         len(os.listdir("/proc/self/fd")))


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/stats":
        body = stats().encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    try:
        got = {ai[4][0] for ai in socket.getaddrinfo(
            NAME, 443, socket.AF_UNSPEC, socket.SOCK_STREAM)}
        good = got == WANT
        why = ",".join(sorted(got))
    except socket.gaierror as e:
        good, why = False, "gaierror %s" % e.args[0]
    if good:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    start_response("500 Wrong", [("Content-Type", "text/plain")])
    return [("wrong: %s\n" % why).encode()]
