#!/usr/bin/python3
"""Who wrote on which TCP connection to a port, from an strace -f -yy log.

    strace_conns.py STRACE_LOG PORT

The log must come from `strace -f -yy -e trace=clone,clone3,fork,vfork,
write,writev,sendto,sendmsg,sendmmsg,shutdown` (threads appear under
their own TIDs; the clone lines map them back to their process). The
first PID in the log is the root process (the one strace started).

Prints one line per process that wrote to (or shut down) a connection
whose remote port is PORT:
    PID PARENT-PID LOCAL-PORT[,LOCAL-PORT...]
with PARENT-PID "-" for the root. A line "OPS PID LOCAL-PORT OP" follows
for every shutdown() seen, so a test can tell it apart from writes.
"""

import re
import sys

LINE = re.compile(r"^(\d+) +(.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
CLONE = re.compile(r"^(clone3?|fork|vfork)\((.*)\) += (\d+)")
SOCK = re.compile(r"^(write|writev|sendto|sendmsg|sendmmsg|shutdown)\("
                  r"\d+<TCP:\[[0-9a-f.:\[\]]+?:(\d+)->[0-9a-f.:\[\]]+?:(\d+)\]>")


def main():
    path, port = sys.argv[1], sys.argv[2]
    calls, pending, root = [], {}, None
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            tid, rest = int(m.group(1)), m.group(2)
            if root is None:
                root = tid
            if rest.endswith("<unfinished ...>"):
                pending[tid] = rest[:-len("<unfinished ...>")]
                continue
            r = RESUMED.match(rest)
            if r:
                rest = pending.pop(tid, r.group(1) + "(") + r.group(2)
            calls.append((tid, rest))

    parent, is_thread = {}, {}
    for tid, text in calls:
        m = CLONE.match(text)
        if m:
            child = int(m.group(3))
            parent[child] = tid
            is_thread[child] = "CLONE_THREAD" in m.group(2)

    def process(t):
        while is_thread.get(t):
            t = parent[t]
        return t

    ports, ops = {}, []
    for tid, text in calls:
        m = SOCK.match(text)
        if not m or m.group(3) != port:
            continue
        pid = process(tid)
        ports.setdefault(pid, set()).add(int(m.group(2)))
        if m.group(1) == "shutdown":
            ops.append((pid, m.group(2), "shutdown"))
    for pid in sorted(ports):
        pp = process(parent[pid]) if pid in parent else "-"
        print(pid, pp, ",".join(str(p) for p in sorted(ports[pid])))
    for pid, lport, op in ops:
        print("OPS", pid, lport, op)
    if root is None:
        print("EMPTY")


if __name__ == "__main__":
    main()
