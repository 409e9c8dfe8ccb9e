#!/usr/bin/python3
"""One dnsperf -v log as a line of key=value for bench/run's serve phase.

    bench/serve_stats.py LOG

qps, sent, lost from dnsperf's summary; p50_us, p99_us and mean_us from
the latency of every answer it printed with -v. rc=1 when the summary is
missing (dnsperf failed).
"""
import re
import statistics
import sys


def main():
    lat, qps, sent, lost = [], None, None, None
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = re.match(r"^> \S+ .* ([0-9]+\.[0-9]+)$", line.rstrip())
            if m:
                lat.append(float(m.group(1)) * 1e6)
                continue
            m = re.search(r"Queries per second:\s+([0-9.]+)", line)
            if m:
                qps = float(m.group(1))
            m = re.search(r"Queries sent:\s+([0-9]+)", line)
            if m:
                sent = int(m.group(1))
            m = re.search(r"Queries lost:\s+([0-9]+)", line)
            if m:
                lost = int(m.group(1))
    if qps is None or not lat:
        print("qps=0 p50_us=0 p99_us=0 mean_us=0 sent=0 lost=0 rc=1")
        return
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
    print("qps={:.0f} p50_us={:.1f} p99_us={:.1f} mean_us={:.1f} sent={} "
          "lost={} rc=0".format(qps, pct(50), pct(99),
                                 statistics.mean(lat), sent, lost))


main()
