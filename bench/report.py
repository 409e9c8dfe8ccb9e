#!/usr/bin/python3
"""pindns benchmarks: turn bench/run's raw figures into the Markdown report.

    bench/report.py OUTDIR > report.md

Reads OUTDIR/meta.txt, results.txt (one line of key=value per workload
run), passthrough.txt, startup.txt, memory.txt, refresh.txt,
callgrind*.txt, micro.txt, sock.txt and serve.txt, any of which may be
missing. Medians are
over the repetitions; every ratio is computed within one repetition (the
two runs it compares ran minutes apart at most, on the same machine
state) and the median of those ratios is printed. Runs
that failed (non-zero exit or any failed lookup) are left out of every
figure and counted in the "ok" column. Nothing is judged here but the
issue's targets, which are reported as met, missed or not measured.
"""
import os
import statistics
import sys

PATH_ORDER = [
    "hosts", "unbound", "unbound-miss", "stubby", "stubby+dnssec",
    "pindns", "pindns-batched", "preload-only", "pindns-miss",
    "pindns-miss-dnssec", "pindns-first",
    "pindns-rtt10", "pindns-rtt10-dnssec", "stubby-rtt10",
    "stubby+dnssec-rtt10",
]

HOW = {
    "hosts": "glibc, the name in /etc/hosts",
    "unbound": "glibc -> local unbound (UDP, validating), cache hit",
    "unbound-miss": "the same, a new name per call (validated miss)",
    "stubby": "glibc -> stubby -> DoT upstream, a new name per call",
    "stubby+dnssec": "the same, stubby validating",
    "pindns": "the preload, cached hit",
    "pindns-batched": "the same, timed in batches of 64 calls (ops/s "
                      "without the per-call clock reads; percentiles of "
                      "batch means)",
    "preload-only": "the preload alone (an engine double answers from "
                    "memory): its share of the hit",
    "pindns-miss": "the preload, unvalidated miss, warm connection",
    "pindns-miss-dnssec": "the preload, validated miss, validated zone",
    "pindns-first": "first lookup of a fresh process (median, max)",
    "pindns-rtt10": "pindns-miss through +10 ms RTT",
    "pindns-rtt10-dnssec": "pindns-miss-dnssec through +10 ms RTT",
    "stubby-rtt10": "stubby through +10 ms RTT",
    "stubby+dnssec-rtt10": "stubby+dnssec through +10 ms RTT",
}

# (label, numerator path, denominator path): p50 ratios, < 1 means the
# pindns path is faster.
RATIOS = [
    ("pindns / hosts", "pindns", "hosts"),
    ("preload-only / pindns (the preload's share)", "preload-only",
     "pindns"),
    ("pindns / unbound", "pindns", "unbound"),
    ("pindns-miss / stubby", "pindns-miss", "stubby"),
    ("pindns-miss-dnssec / stubby+dnssec", "pindns-miss-dnssec",
     "stubby+dnssec"),
    ("pindns-miss-dnssec / unbound-miss", "pindns-miss-dnssec",
     "unbound-miss"),
    ("pindns-rtt10 / stubby-rtt10", "pindns-rtt10", "stubby-rtt10"),
    ("pindns-rtt10-dnssec / stubby+dnssec-rtt10", "pindns-rtt10-dnssec",
     "stubby+dnssec-rtt10"),
]


def kv(line):
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d.setdefault(k, v)
    return d


def read_kv_lines(path):
    try:
        with open(path) as f:
            return [kv(l) for l in f if "=" in l]
    except OSError:
        return []


def fnum(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt_us(v):
    if v is None:
        return "–"
    if v >= 10000:
        return "{:,.0f}".format(v)
    if v >= 100:
        return "{:.0f}".format(v)
    if v >= 10:
        return "{:.1f}".format(v)
    if v >= 1:
        return "{:.2f}".format(v)
    return "{:.3f}".format(v)


def fmt_ops(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return "{:.2f} M".format(v / 1e6)
    if v >= 1e3:
        return "{:,.0f}".format(v)
    return "{:.0f}".format(v)


def fmt_ratio(v):
    if v is None:
        return "–"
    if v < 0.01:
        return "{:.1e}".format(v)
    return "{:.3f}".format(v) if v < 0.1 else "{:.2f}".format(v)


def cg_counts(path):
    """{function: instructions} from a callgrind_annotate listing."""
    d = {}
    try:
        with open(path) as f:
            for l in f:
                l = l.strip()
                if "(" not in l:
                    continue
                n, rest = l.split(" ", 1)
                fn = rest.split(")", 1)[1].strip()
                if fn.startswith("=>") or fn.startswith("*"):
                    continue
                # "file:function [object]": the function, and the object
                # when it is not the program (getaddrinfo is in two).
                # Lines without an object are per-file repeats.
                if ":" not in fn or " [" not in fn:
                    continue
                obj = fn.split(" [", 1)[1].rstrip("]") if " [" in fn else ""
                fn = fn.split(" [")[0].rsplit(":", 1)[-1]
                obj = os.path.basename(obj)
                if obj and not obj.startswith("plain_"):
                    fn = "{} ({})".format(fn, obj.split(".so")[0])
                d[fn] = d.get(fn, 0) + int(n.replace(",", ""))
    except (OSError, ValueError):
        return {}
    return d


def cg_breakdown(out, path, n, top=14):
    """[(function, inclusive per call, self per call)], largest first."""
    base = os.path.join(out, "callgrind-{}.{}".format(path, n))
    twice = os.path.join(out, "callgrind-{}.{}".format(path, 2 * n))
    inc = {k: v - cg_counts(base + ".yes.txt").get(k, 0)
           for k, v in cg_counts(twice + ".yes.txt").items()}
    slf = {k: v - cg_counts(base + ".no.txt").get(k, 0)
           for k, v in cg_counts(twice + ".no.txt").items()}
    rows = [(k, inc[k] / n, slf.get(k, 0) / n) for k in inc
            if inc[k] / n >= 10 and k != "run" and "(???)" not in k and
            not k.startswith(("clone ", "start_thread "))]
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


def ok(r):
    return r.get("rc") == "0" and r.get("errors") == "0"


SERVERS = ["pindns-serve", "unbound", "kresd", "stubby"]
SERVER_HOW = {
    "pindns-serve": "pindns serve, engine cache, validating",
    "unbound": "unbound, cache, validating",
    "kresd": "Knot Resolver, cache, validating",
    "stubby": "stubby, no cache (every query a validated DoT exchange)",
}


def serve_section(out, p):
    """The serve phase (bench/serve.sh): dnsperf against four resolvers.
    Returns the serve targets as (what, measured, met) tuples."""
    sv = read_kv_lines(os.path.join(out, "serve.txt"))
    if not sv:
        return []
    # As bench/serve.sh judges a run: answered, at most 1 % lost.
    good = [d for d in sv if d.get("rc") == "0" and
            (fnum(d, "sent") or 0) > 0 and
            (fnum(d, "lost") or 0) <= (fnum(d, "sent") or 0) / 100]

    def pick(server, mode, c):
        return [d for d in good if d.get("server") == server and
                d.get("mode") == mode and d.get("clients") == str(c)]

    def m(server, mode, c, k):
        return med([fnum(d, k) for d in pick(server, mode, c)])

    def ratio(mode, c, k, a="pindns-serve", b="unbound"):
        """Median of the per-repetition ratios a / b."""
        vals = []
        for rep in sorted({d["rep"] for d in good}):
            x = [fnum(d, k) for d in pick(a, mode, c) if d["rep"] == rep]
            y = [fnum(d, k) for d in pick(b, mode, c) if d["rep"] == rep]
            if x and y and x[0] and y[0]:
                vals.append(x[0] / y[0])
        return med(vals)

    p("Local resolvers on loopback in front of the lab's DoT upstream, "
      "each asked in turn within each repetition (bench/serve.sh): cached "
      "queries per second and p50/p99 latency for one client asking one "
      "question at a time (bench/plain_dns) and for 64 dnsperf clients "
      "with one query in flight each, and the validated miss (a new "
      "signed name, one at a time, dnsperf). Medians over the "
      "repetitions; ratios to unbound are medians of the per-repetition "
      "ratios (> 1: more queries per second, or a slower miss).")
    p()
    p("| server | cached q/s, 1 client | p50 / p99 µs | cached q/s, 64 "
      "clients | p50 / p99 µs | validated miss p50 / p99 µs | ok |")
    p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in SERVERS:
        n = len([d for d in sv if d.get("server") == s])
        p("| {} ({}) | {} | {} / {} | {} | {} / {} | {} / {} | {}/{} |"
          .format(s, SERVER_HOW[s], fmt_ops(m(s, "cached", 1, "qps")),
                  fmt_us(m(s, "cached", 1, "p50_us")),
                  fmt_us(m(s, "cached", 1, "p99_us")),
                  fmt_ops(m(s, "cached", 64, "qps")),
                  fmt_us(m(s, "cached", 64, "p50_us")),
                  fmt_us(m(s, "cached", 64, "p99_us")),
                  fmt_us(m(s, "miss", 1, "p50_us")),
                  fmt_us(m(s, "miss", 1, "p99_us")),
                  len([d for d in good if d.get("server") == s]), n))
    p()
    p("| ratio (per repetition, median) | cached q/s, 1 client | cached "
      "q/s, 64 clients | validated miss p50 |")
    p("| --- | ---: | ---: | ---: |")
    for s in SERVERS:
        if s == "unbound":
            continue
        p("| {} / unbound | {} | {} | {} |".format(
            s, fmt_ratio(ratio("cached", 1, "qps", s)),
            fmt_ratio(ratio("cached", 64, "qps", s)),
            fmt_ratio(ratio("miss", 1, "p50_us", s))))
    p()
    out_t = []
    for c in (1, 64):
        v = ratio("cached", c, "qps")
        out_t.append(("pindns serve cached q/s ≥ unbound's ({} client{})"
                      .format(c, "s" if c > 1 else ""),
                      "{} x".format(fmt_ratio(v)) if v else "–",
                      None if v is None else v >= 1.0))
    v = ratio("miss", 1, "p50_us")
    out_t.append(("pindns serve validated miss p50 ≤ unbound's",
                  "{} x".format(fmt_ratio(v)) if v else "–",
                  None if v is None else v <= 1.0))
    p("| target (issue 14) | measured | |")
    p("| --- | --- | --- |")
    for what, meas, met in out_t:
        p("| {} | {} | {} |".format(what, meas, "not measured" if met is None
                                    else ("met" if met else "**missed**")))
    p()
    return out_t


def main():
    out = sys.argv[1]
    meta = {}
    # One key=value per line; values may hold spaces.
    try:
        with open(os.path.join(out, "meta.txt")) as f:
            for l in f:
                if "=" in l:
                    k, v = l.rstrip("\n").split("=", 1)
                    meta[k] = v
    except OSError:
        pass
    runs = read_kv_lines(os.path.join(out, "results.txt"))
    rtt_ms = float(meta.get("rtt_ms", "10") or 10)

    p = print
    p("Run {} on {} cores ({}), kernel {}; a machine shared with other "
      "engineers building and testing (load average {} at the start, {} "
      "at the end). Command: `{}` ({} repetitions x {} s per run, threads "
      "{}), {} s in all. unbound {}, stubby {}, getdns {}, glibc {}."
      .format(meta.get("date", "?"), meta.get("cores", "?"),
              meta.get("cpu", "?"), meta.get("kernel", "?"),
              meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?"),
              meta.get("command", "make bench"),
              meta.get("reps", "?"), meta.get("secs", "?"),
              meta.get("threads", "?"), meta.get("elapsed_s", "?"),
              meta.get("unbound", "?"), meta.get("stubby", "?"),
              meta.get("getdns", "?"), meta.get("glibc", "?")))
    p()

    # ---------------------------------------------------------- matrix
    matrix = [r for r in runs if r.get("rep", "0") != "0"]
    cells = {}
    for r in matrix:
        t = int(r["label"][1:]) if r.get("label", "").startswith("t") else 0
        cells.setdefault((r["path"], t), []).append(r)
    threads = sorted({t for (_, t) in cells})
    summary = {}
    exhausted_seen = False
    if matrix:
        p("| path | how | threads | ops/s | p50 µs | p99 µs | p99.9 µs "
          "| first call µs | ok runs |")
        p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in PATH_ORDER:
        if path == "pindns-first":
            firsts = [fnum(r, "first_us") for (pp, _), rs in cells.items()
                      if pp == "pindns" for r in rs if ok(r)]
            firsts = [x for x in firsts if x is not None]
            if firsts:
                summary[("pindns-first", 1)] = {"p50": med(firsts)}
                p("| pindns-first | {} | 1 | – | {} | max {} | – | – "
                  "| {} |"
                  .format(HOW[path], fmt_us(med(firsts)),
                          fmt_us(max(firsts)), len(firsts)))
            continue
        for t in threads:
            rs = cells.get((path, t))
            if not rs:
                continue
            good = [r for r in rs if ok(r)]
            s = {k: med([fnum(r, k) for r in good]) for k in
                 ("ops_s", "p50_us", "p99_us", "p999_us", "first_us")}
            summary[(path, t)] = s
            mark = ""
            if any(r.get("exhausted") == "1" for r in good):
                mark = " †"
                exhausted_seen = True
            p("| {} | {} | {} | {} | {} | {} | {} | {} | {}/{}{} |".format(
                path, HOW.get(path, "") if t == threads[0] else "", t,
                fmt_ops(s["ops_s"]), fmt_us(s["p50_us"]),
                fmt_us(s["p99_us"]), fmt_us(s["p999_us"]),
                fmt_us(s["first_us"]), len(good), len(rs), mark))
    if matrix:
        p()
        if exhausted_seen:
            p("† some runs asked every one of the lab's explicit names "
              "before their time was up and stopped early (ops/s over "
              "the time they ran; fewer samples).")
            p()
        # Ratios within each repetition, then their median.
        byrep = {}
        for r in matrix:
            if ok(r) and r.get("label", "").startswith("t"):
                byrep[(r["path"], int(r["label"][1:]), r["rep"])] = r
        reps = sorted({r["rep"] for r in matrix})
        rows = []
        for label, a, b in RATIOS:
            vals = []
            for t in threads:
                v = []
                for rep in reps:
                    ra, rb = byrep.get((a, t, rep)), byrep.get((b, t, rep))
                    if ra and rb and fnum(rb, "p50_us"):
                        v.append(fnum(ra, "p50_us") / fnum(rb, "p50_us"))
                vals.append(med(v))
            if any(x is not None for x in vals):
                rows.append((label, vals))
        if rows:
            p("p50 ratios A / B, each computed within one repetition, median "
              "over the repetitions (below 1: A is faster):")
            p()
            p("| ratio of p50 | " + " | ".join(
                "{} thr.".format(t) for t in threads) + " |")
            p("| --- |" + " ---: |" * len(threads))
            for label, vals in rows:
                p("| {} | {} |".format(label, " | ".join(
                    fmt_ratio(v) for v in vals)))
            p()
        rt = []
        for path in ("pindns-rtt10", "pindns-rtt10-dnssec", "stubby-rtt10",
                     "stubby+dnssec-rtt10"):
            s = summary.get((path, 1))
            if s and s["p50_us"] is not None:
                rt.append("{} {:.2f}".format(path,
                                             s["p50_us"] / 1000 / rtt_ms))
        if rt:
            p("Round trips at 1 thread (p50 / {:g} ms added RTT): {}."
              .format(rtt_ms, ", ".join(rt)))
            p()

    # ---------------------------------------------------------- passthrough
    pt = read_kv_lines(os.path.join(out, "passthrough.txt"))
    if pt:
        p("Names pindns does not claim (pass-through to libc), 1 thread, "
          "without and with the preload alternately; medians, the ratio "
          "within each repetition:")
        p()
        p("| call | libc p50 µs | with preload p50 µs | ratio | libc ops/s "
          "| with preload ops/s | ok runs |")
        p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        names = {"numeric": 'getaddrinfo("127.0.0.1")',
                 "null": "getaddrinfo(NULL, AI_PASSIVE)",
                 "hosts": "getaddrinfo, a name in /etc/hosts",
                 "hostent": "gethostbyname_r, the same name",
                 "dns": "getaddrinfo, a DNS name (glibc -> unbound)"}
        for c in ("numeric", "null", "hosts", "hostent", "dns"):
            rs = [d for d in pt if d.get("case") == c]
            if not rs:
                continue
            good = [d for d in rs if ok(d)]
            side = {sd: [d for d in good if d.get("side") == sd]
                    for sd in ("libc", "preload")}
            ratios = []
            for rep in {d["rep"] for d in good}:
                a = [d for d in side["preload"] if d["rep"] == rep]
                b = [d for d in side["libc"] if d["rep"] == rep]
                if a and b and fnum(b[0], "p50_us"):
                    ratios.append(fnum(a[0], "p50_us") / fnum(b[0], "p50_us"))
            p("| {} | {} | {} | {} | {} | {} | {}/{} |".format(
                names[c],
                fmt_us(med([fnum(d, "p50_us") for d in side["libc"]])),
                fmt_us(med([fnum(d, "p50_us") for d in side["preload"]])),
                fmt_ratio(med(ratios)),
                fmt_ops(med([fnum(d, "ops_s") for d in side["libc"]])),
                fmt_ops(med([fnum(d, "ops_s") for d in side["preload"]])),
                len(good), len(rs)))
        p()

    # ---------------------------------------------------------- startup
    st = read_kv_lines(os.path.join(out, "startup.txt"))
    spawn = {d["cmd"]: d for d in st if d.get("tool") == "plain_spawn"}
    hf = {(d["cmd"], d["side"]): d for d in st if d.get("tool") == "hyperfine"}
    if spawn:
        p("Start-up of processes that never resolve a protected name "
          "(plain_spawn: fork+exec+wait, pairs alternating, medians; "
          "hyperfine -N as a cross-check):")
        p()
        p("| command | without µs | with preload µs | ratio | max RSS "
          "without kB | with kB | delta kB | hyperfine without / with µs |")
        p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        names = {"true": "/bin/true", "python": "python3 -c pass"}
        for c in ("true", "python"):
            d = spawn.get(c)
            if not d:
                continue
            hb, hw = hf.get((c, "base")), hf.get((c, "with"))
            hs = "–"
            if hb and hw:
                hs = "{} / {}".format(fmt_us(fnum(hb, "median_us")),
                                      fmt_us(fnum(hw, "median_us")))
            p("| {} ({} pairs) | {} | {} | {:.3f} | {} | {} | {} | {} |".format(
                names[c], d.get("pairs"), fmt_us(fnum(d, "base_us")),
                fmt_us(fnum(d, "with_us")), fnum(d, "ratio"),
                d.get("base_kb"), d.get("with_kb"), d.get("delta_kb"), hs))
        p()

    # ---------------------------------------------------------- memory
    mem = read_kv_lines(os.path.join(out, "memory.txt"))
    if mem:
        p("Memory of one worker resolving distinct protected names "
          "(VmRSS kB after N names; the pindns cache holds at most "
          "max_entries = 10,000):")
        p()
        paths = []
        for d in mem:
            if d["path"] not in paths:
                paths.append(d["path"])
        counts = sorted({int(d["calls"]) for d in mem if "calls" in d})
        p("| path | " + " | ".join("{:,}".format(c) for c in counts) +
          " | peak (VmHWM) | failed |")
        p("| --- |" + " ---: |" * (len(counts) + 2))
        for path in paths:
            row = {int(d["calls"]): d.get("rss_kb") for d in mem
                   if d["path"] == path and "calls" in d}
            fin = [d for d in mem if d["path"] == path and "ops" in d]
            hwm = fin[-1].get("hwm_kb") if fin else "–"
            errs = fin[-1].get("errors") if fin else "?"
            p("| {} | {} | {} | {} |".format(
                path, " | ".join(str(row.get(c, "–")) for c in counts),
                hwm, errs))
        p()

    # ---------------------------------------------------------- refresh
    rf = read_kv_lines(os.path.join(out, "refresh.txt"))
    runs_rf = {d["label"]: d for d in rf if "path" in d}
    upq = {d.get("label", "refresh"): d["upstream_a_queries"] for d in rf
           if "upstream_a_queries" in d}
    refresh = runs_rf.get("refresh")
    control = runs_rf.get("control")
    refresh_secs = float(meta.get("refresh_secs", "60") or 60)
    # Refresh-ahead alone asks about once per 5 s TTL; against a caching
    # upstream up to twice (the refresh in the TTL's last tenth may get
    # the upstream's last second, TTL 0 or 1, and refresh again). Three
    # per TTL plus the first lookup and one is the most a worker that
    # never waits on the network causes; one that does sends hundreds.
    upq_bound = int(3 * refresh_secs / 5) + 2
    if runs_rf:
        p("Refresh-ahead: one thread resolving the same name steadily for "
          "{:g} s; `refresh` has a 5 s TTL (`refresh-min1`: the same with "
          "`cache: min_ttl: 1` in the policy), `control` the 300 s name "
          "(nothing expires). The upstream caches, so it answers with what "
          "is left of its own TTL, down to 0. Refresh-ahead alone would "
          "send it at most {} A queries for the name:".format(
              refresh_secs, upq_bound))
        p()
        p("| run | ops | p50 µs | p99 µs | p99.9 µs | p99.99 µs | "
          "max µs | "
          "samples > 100 µs | upstream A queries | failed |")
        p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
          "---: |")
        for label in ("refresh", "refresh-min1", "control"):
            d = runs_rf.get(label)
            if not d:
                continue
            p("| {} | {:,} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                label, int(d.get("ops", 0)), fmt_us(fnum(d, "p50_us")),
                fmt_us(fnum(d, "p99_us")), fmt_us(fnum(d, "p999_us")),
                fmt_us(fnum(d, "p9999_us")), fmt_us(fnum(d, "max_us")),
                d.get("slow", "?"), upq.get(label, "–"),
                d.get("errors", "?")))
        p()

    # ---------------------------------------------------------- callgrind
    cg = read_kv_lines(os.path.join(out, "callgrind.txt"))
    skipped = [d["skipped"] for d in cg if "skipped" in d]
    cg = [d for d in cg if "path" in d]
    if skipped:
        p("Instructions per call: not counted in a {} build (valgrind "
          "cannot run its instrumented programs).".format(skipped[0]))
        p()
    if cg:
        p("Instructions per call (callgrind, getaddrinfo + freeaddrinfo, "
          "{} calls after a warm-up; stable where times are not): {}."
          .format(cg[0].get("calls", "?"), ", ".join(
              "{} {}{}".format(
                  d["path"], "{:,}".format(int(d["ir_per_call"]))
                  if "ir_per_call" in d else "failed",
                  " (unstable: {:,} over the first N calls)".format(
                      int(d["first_n_per_call"]))
                  if d.get("stable") == "0" else "")
              for d in cg)))
        p()
    for d in cg:
        if "ir_per_call" not in d:
            continue
        rows = cg_breakdown(out, d["path"], int(d["calls"]))
        if not rows:
            continue
        p("Where the {} path spends them, per call (callgrind_annotate, "
          "the 2N run minus the N run, over N; inclusive, then self):"
          .format(d["path"]))
        p()
        p("| function | inclusive | self |")
        p("| --- | ---: | ---: |")
        for fn, inc, slf in rows:
            p("| `{}` | {:,.0f} | {:,.0f} |".format(fn, inc, slf))
        p()

    # ---------------------------------------------------------- micro
    try:
        with open(os.path.join(out, "micro.txt")) as f:
            micro = f.read().strip()
    except OSError:
        micro = ""
    if micro:
        p("Module micro-benchmarks (bench/bench_*, output as printed):")
        p()
        p("```")
        p(micro)
        p("```")
        p()

    # ---------------------------------------------------------- sock
    sk = read_kv_lines(os.path.join(out, "sock.txt"))
    sock_ratio = sock_calls = None
    if sk:
        def sk_med(c, k):
            return med([fnum(d, k) for d in sk if d.get("case") == c])
        p("Programs that send DNS themselves (SPEC §4.1, last row): one "
          "question at a time, medians over the repetitions of each "
          "run's p50 (µs):")
        p()
        p("| path | p50 µs | p90 µs |")
        p("| --- | ---: | ---: |")
        for c, name in (("res", "glibc res_query -> local unbound "
                         "(cache hit, UDP)"),
                        ("unbound", "c-ares-like client -> local unbound"),
                        ("pindns", "c-ares-like client, claimed name, "
                         "pindns responder (engine cache)")):
            p("| {} | {} | {} |".format(name, fmt_us(sk_med(c, "us_p50")),
                                       fmt_us(sk_med(c, "us_p90"))))
        a, b = sk_med("pindns", "us_p50"), sk_med("res", "us_p50")
        sock_ratio = a / b if a and b else None
        p()
        p("Socket calls that carry no DNS: the preload's hooks beside "
          "libc's functions in one process (a descriptor that is not "
          "open; ns per call, the best slice of 1,000 calls, median over "
          "repetitions), and instructions per call under callgrind (real "
          "loopback UDP sockets, no DNS):")
        p()
        p("| call | libc ns | hook ns | difference | libc Ir | "
          "with preload Ir |")
        p("| --- | ---: | ---: | ---: | ---: | ---: |")
        diffs = []

        def hook_ns(k, i):
            v = [d.get("ns_" + k, "").split("/") for d in sk
                 if d.get("case") == "hook"]
            return med([float(x[i]) for x in v if len(x) == 3])
        for k in ("connect", "send", "sendto", "recvfrom", "recvmsg",
                  "getpeername"):
            x, y = hook_ns(k, 0), hook_ns(k, 1)
            a, b = sk_med("cg-libc", "ir_" + k), sk_med("cg-preload",
                                                        "ir_" + k)
            if x is None or y is None:
                continue
            diffs.append(y - x)
            p("| {} | {:.1f} | {:.1f} | {:+.1f} | {} | {} |".format(
                k, x, y, y - x, "–" if a is None else "{:.0f}".format(a),
                "–" if b is None else "{:.0f}".format(b)))
        sock_calls = max(diffs) if diffs else None
        p()

    # ---------------------------------------------------------- serve
    serve_section(out, p)

    # ---------------------------------------------------------- targets
    targets = []

    def target(what, measured, met):
        targets.append((what, measured,
                        "not measured" if met is None else
                        ("met" if met else "**missed**")))

    def get(path, t, k):
        s = summary.get((path, t))
        return s.get(k) if s else None

    v = get("pindns", 1, "p50_us")
    target("cached hit p50 ≤ 0.2 µs at 1 thread",
           fmt_us(v) + " µs" if v is not None else "–",
           None if v is None else v <= 0.2)
    # Throughput from the batched runs when there are some: per-call
    # clock reads cost ~50 ns of a ~150 ns call.
    thr_path = "pindns-batched" if any(
        get("pindns-batched", t, "ops_s") for t in threads) else "pindns"
    vs = [(t, get(thr_path, t, "ops_s")) for t in threads if t >= 2]
    vs = [(t, x) for t, x in vs if x is not None]
    if vs:
        t, x = min(vs, key=lambda y: y[1])
        target("cached hit ≥ 4 M ops/s at 2–64 threads",
               "lowest {} ops/s ({} threads; {} at {} threads)".format(
                   fmt_ops(x), t, thr_path,
                   ", ".join(str(y) for y, _ in vs)),
               x >= 4e6)
    else:
        target("cached hit ≥ 4 M ops/s at 2–64 threads", "–", None)
    v = get("pindns", 64, "p99_us")
    target("cached hit p99 ≤ 1 µs at 64 threads",
           fmt_us(v) + " µs" if v is not None else "–",
           None if v is None else v <= 1.0)
    rmiss = None
    if matrix:
        vals = []
        for rep in sorted({r["rep"] for r in matrix}):
            ra = byrep.get(("pindns-miss", 1, rep))
            rb = byrep.get(("stubby", 1, rep))
            if ra and rb:
                vals.append(fnum(ra, "p50_us") / fnum(rb, "p50_us"))
        rmiss = med(vals)
    target("unvalidated miss ≤ 0.5 x stubby (p50, 1 thread)",
           "{} x ({} vs {} µs)".format(
               fmt_ratio(rmiss), fmt_us(get("pindns-miss", 1, "p50_us")),
               fmt_us(get("stubby", 1, "p50_us"))) if rmiss else "–",
           None if rmiss is None else rmiss <= 0.5)
    v = get("pindns-miss-dnssec", 1, "p50_us")
    target("validated miss ≤ 0.4 ms p50 on loopback (1 thread)",
           fmt_us(v) + " µs" if v is not None else "–",
           None if v is None else v <= 400)
    v = get("pindns-rtt10-dnssec", 1, "p50_us")
    target("validated miss: one round trip through +{:g} ms".format(rtt_ms),
           "{:.2f} round trips ({} ms)".format(v / 1000 / rtt_ms, fmt_us(
               v / 1000)) if v is not None else "–",
           None if v is None else v / 1000 / rtt_ms < 1.5)
    if refresh and control and ok(refresh) and ok(control):
        a, b = fnum(refresh, "p999_us"), fnum(control, "p999_us")
        q = int(upq.get("refresh", 0))
        target("refresh-ahead: never waits on the network after the first "
               "lookup (p99.9 ≤ 2 x the control run, and no more upstream "
               "queries than refresh-ahead sends)",
               "p99.9 {} vs {} µs; {} upstream A queries (refresh-ahead "
               "alone: ≤ {}); samples > 100 µs: {} vs {}".format(
                   fmt_us(a), fmt_us(b), q, upq_bound, refresh.get("slow"),
                   control.get("slow")), a <= 2 * b and q <= upq_bound)
    else:
        target("refresh-ahead: p99.9 at the cached-hit level", "–", None)
    for c, name in (("true", "/bin/true"), ("python", "python3 -c pass")):
        d = spawn.get(c)
        if d:
            r, dk = fnum(d, "ratio"), fnum(d, "delta_kb")
            target("start-up of {} ≤ 1.05 x and ≤ +256 kB".format(name),
                   "{:.3f} x, {:+.0f} kB".format(r, dk),
                   r <= 1.05 and dk <= 256)
        else:
            target("start-up of {} ≤ 1.05 x and ≤ +256 kB".format(name),
                   "–", None)
    if sk:
        target("c-ares-like query for a cached claimed name ≤ 0.5 x glibc's "
               "cache hit from a local unbound over UDP (issue 13)",
               "–" if sock_ratio is None else "{:.2f} x".format(sock_ratio),
               None if sock_ratio is None else sock_ratio <= 0.5)
        target("socket calls carrying no DNS ≤ +5 ns each (issue 13)",
               "–" if sock_calls is None else
               "worst {:+.1f} ns".format(sock_calls),
               None if sock_calls is None else sock_calls <= 5)
    p("| target (issue 7) | measured | |")
    p("| --- | --- | --- |")
    for what, m, verdict in targets:
        p("| {} | {} | {} |".format(what, m, verdict))
    cold_section(out, p, rtt_ms)


def cold_section(out, p, rtt_ms):
    """Issue 15: the cold paths beside their anchors (cold.txt)."""
    cold = read_kv_lines(os.path.join(out, "cold.txt"))
    if not cold:
        return
    figs = {d.get("fig"): d for d in cold if d.get("fig") in
            ("fresh", "procs", "fresh-before", "procs-before")}
    first = {}
    for d in cold:
        if d.get("fig") == "first" and d.get("rc") == "0":
            w = d.get("what")
            v = fnum(d, "first_us") or fnum(d, "tls_us") or \
                fnum(d, "lookup_us")
            first.setdefault(w, []).append(v)
            if w.startswith("getdns"):
                first.setdefault(w + "-ctx", []).append(fnum(d, "ctx_us"))
    miss = {}
    for d in cold:
        if d.get("label") == "cold" and ok(d):
            miss.setdefault(d["path"], []).append(fnum(d, "p50_us"))
    p()
    p("Cold paths (issue 15; `BENCH_PHASES=cold`), medians of fresh "
      "processes; round trips are the time over the relay's {:g} ms:"
      .format(rtt_ms))
    p()
    p("| figure | pindns | anchors |")
    p("| --- | ---: | --- |")

    def m(w):
        return med(first.get(w, []))

    def us(v):
        return "–" if v is None else fmt_us(v) + " µs"

    def rt(v):
        return "–" if v is None else "{:.2f} RTT ({} ms)".format(
            v / 1000 / rtt_ms, fmt_us(v / 1000))
    fr, pr = figs.get("fresh"), figs.get("procs")
    if fr:
        p("| first protected lookup of a fresh process, loopback: the whole "
          "process minus the same process answered from /etc/hosts "
          "({} pairs) | +{} ({} vs {}) | first call in-process: pindns {}, "
          "stubby {}, stubby+dnssec {}; TCP+TLS 1.3+query {}; getdns "
          "in-process: context {} + lookup {} |".format(
              fr.get("pairs"), us(fnum(fr, "delta_us")),
              us(fnum(fr, "with_us")), us(fnum(fr, "base_us")),
              us(m("pindns")), us(m("stubby")), us(m("stubby+dnssec")),
              us(m("tls")), us(m("getdns-ctx")), us(m("getdns"))))
    p("| first lookup through the relay, validated | {} | TCP+TLS 1.3+query "
      "{}; getdns in-process {} |".format(
          rt(m("pindns-rtt10-dnssec")), rt(m("tls-rtt10")),
          rt(m("getdns-rtt10"))))
    p("| first lookup through the relay, unvalidated | {} | |".format(
        rt(m("pindns-rtt10"))))
    if pr:
        p("| {} short processes each resolving one protected name | {} "
          "each | {} each with plain glibc (local unbound, cache hit): "
          "{:.2f} x |".format(pr.get("pairs"), us(fnum(pr, "with_us")),
                              us(fnum(pr, "base_us")), fnum(pr, "ratio")))
    p("| validated A+AAAA miss through getaddrinfo, p50 (1 thread) | {} | "
      "glibc -> local validating unbound (miss) {}, stubby+dnssec {} |"
      .format(us(med(miss.get("pindns-miss-dnssec", []))),
              us(med(miss.get("unbound-miss", []))),
              us(med(miss.get("stubby+dnssec", [])))))
    p()
    rows = []

    def target(what, measured, met):
        rows.append((what, measured, "not measured" if met is None else
                     ("met" if met else "**missed**")))
    v = fnum(fr, "delta_us") if fr else None
    target("1. first protected lookup of a fresh process ≤ +3.5 ms over "
           "/etc/hosts", us(v), None if v is None else v <= 3500)
    v = m("pindns-rtt10-dnssec")
    target("2. first validated lookup through the relay ≤ 3.3 RTT", rt(v),
           None if v is None else v / 1000 / rtt_ms <= 3.3)
    v = m("pindns-rtt10")
    target("2. first unvalidated lookup through the relay ≤ 3.2 RTT", rt(v),
           None if v is None else v / 1000 / rtt_ms <= 3.2)
    v = fnum(pr, "ratio") if pr else None
    target("3. short processes ≤ 3 x plain glibc",
           "–" if v is None else "{:.2f} x".format(v),
           None if v is None else v <= 3)
    v = med(miss.get("pindns-miss-dnssec", []))
    target("4. validated A+AAAA miss ≤ 0.4 ms p50", us(v),
           None if v is None else v <= 400)
    p("| target (issue 15) | measured | |")
    p("| --- | --- | --- |")
    for what, mm, verdict in rows:
        p("| {} | {} | {} |".format(what, mm, verdict))
    if "fresh-before" not in figs and not first.get("pindns-before"):
        return
    # BENCH_BEFORE: the other build's preload, measured alternately.
    fb, pb = figs.get("fresh-before"), figs.get("procs-before")
    p()
    p("Before (BENCH_BEFORE) and now, measured alternately in this run:")
    p()
    p("| figure | before | now |")
    p("| --- | ---: | ---: |")
    p("| fresh process over /etc/hosts | +{} | +{} |".format(
        us(fnum(fb, "delta_us") if fb else None),
        us(fnum(fr, "delta_us") if fr else None)))
    p("| short processes / plain glibc | {} | {} |".format(
        "–" if not pb else "{:.2f} x".format(fnum(pb, "ratio")),
        "–" if not pr else "{:.2f} x".format(fnum(pr, "ratio"))))
    p("| first call, loopback | {} | {} |".format(
        us(m("pindns-before")), us(m("pindns"))))
    p("| first lookup via the relay, validated | {} | {} |".format(
        rt(m("pindns-rtt10-dnssec-before")), rt(m("pindns-rtt10-dnssec"))))
    p("| first lookup via the relay, unvalidated | {} | {} |".format(
        rt(m("pindns-rtt10-before")), rt(m("pindns-rtt10"))))
    p("| validated A+AAAA miss p50 | {} | {} |".format(
        us(med(miss.get("pindns-before-miss-dnssec", []))),
        us(med(miss.get("pindns-miss-dnssec", [])))))


if __name__ == "__main__":
    main()
