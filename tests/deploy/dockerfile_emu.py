#!/usr/bin/python3
"""Replay a Dockerfile on this machine, where Docker cannot run.

    dockerfile_emu.py build DOCKERFILE CONTEXT WORK [--target STAGE]
    dockerfile_emu.py run WORK [--publish FROM=TO] [-e K=V]... [--bind DIR]...
                      [--etc FILE=PATH]... [--ro SRC=PATH]... [--read-only]
                      [--tmpfs PATH]... [--cmd-json JSON] [-- ARGS...]

Each stage becomes an overlay of this machine's root (lowerdir=/, an
upper directory under WORK/<stage>): the machine has Debian 12 with the
packages the stages install, so the overlay stands in for the base image
plus those packages. Every instruction is replayed:

  RUN         in a chroot into the stage's overlay, as root, with the
              stage's ENV and WORKDIR. A RUN that starts with
              `apt-get update` is not run (no network for apt here);
              its packages are checked to be installed on the machine
              and listed in WORK/<stage>.packages instead.
  COPY        from CONTEXT (honouring DOCKERFILE.dockerignore, else
              CONTEXT/.dockerignore) or, with --from, from that stage's
              overlay; Docker's rules for directories and trailing `/`.
  ENV, WORKDIR, USER, ENTRYPOINT, CMD, EXPOSE, ARG (defaults): recorded.

`build` writes WORK/image.json (with --target, of that stage, the later
ones not replayed, as `docker build --target`). `run` mounts the final stage's overlay in
a private mount namespace (with /dev, /proc, /sys and each --bind DIR at
the same path), puts each --etc FILE at PATH inside it (for a poisoned
resolv.conf), each --ro SRC (a file or a directory) at PATH read-only
(`docker run -v SRC:PATH:ro`), and execs ENTRYPOINT + CMD (or ENTRYPOINT + ARGS) as USER
in WORKDIR with a clean environment: PATH, HOME, the image's ENV, then
-e. --publish FROM=TO rewrites the argument FROM (e.g. 0.0.0.0:8000) to
TO, as `docker run -p` would map it. --read-only makes the image's root
read-only (Kubernetes' readOnlyRootFilesystem, `docker run --read-only`)
and --tmpfs PATH puts an empty writable tmpfs at PATH first (an emptyDir
volume); --cmd-json ["a", "b"] replaces CMD as a pod's `args` would. The
process keeps run's PID.
"""

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def die(msg):
    print("dockerfile_emu: " + msg, file=sys.stderr)
    sys.exit(1)


def parse(path):
    """Instructions as (KEYWORD, text, line number), continuations joined."""
    out, buf, start = [], "", 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not buf and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if buf and s.lstrip().startswith("#"):
                continue		# comment inside a continuation
            if not buf:
                start = n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            kw, _, rest = buf.strip().partition(" ")
            out.append((kw.upper(), rest.strip(), start))
            buf = ""
    if buf:
        die("%s: unterminated continuation at line %d" % (path, start))
    return out


def ignore_patterns(dockerfile, context):
    for p in (dockerfile + ".dockerignore",
              os.path.join(context, ".dockerignore")):
        if os.path.exists(p):
            with open(p) as f:
                return [l.strip().strip("/") for l in f
                        if l.strip() and not l.startswith("#")]
    return []


def ignored(rel, pats):
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for p in pats:
            if fnmatch.fnmatchcase(prefix, p):
                return True
            if p.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1],
                                                           p[3:]):
                return True
    return False


class Stage:
    def __init__(self, work, name, index):
        self.name = name or str(index)
        self.dir = os.path.join(work, "stage-" + self.name)
        self.upper = os.path.join(self.dir, "upper")
        self.wk = os.path.join(self.dir, "work")
        self.merged = os.path.join(self.dir, "merged")
        for d in (self.upper, self.wk, self.merged):
            os.makedirs(d, exist_ok=True)
        self.env = {}
        self.workdir = "/"
        self.user = "root"
        self.entrypoint = []
        self.cmd = []
        self.expose = []
        self.packages = []

    def path(self, p):
        """Where p of the stage's file system is, read-only (upper first)."""
        up = os.path.join(self.upper, p.lstrip("/"))
        return up if os.path.lexists(up) else os.path.join("/", p.lstrip("/"))

    def sh(self, script, user=None):
        """Run script in a chroot into the stage's overlay."""
        env = " ".join(shlex.quote("%s=%s" % kv) for kv in
                       [("PATH", DEFAULT_PATH), ("HOME", "/root")] +
                       list(self.env.items()))
        inner = ("mount -t overlay overlay -o lowerdir=/,upperdir=%s,"
                 "workdir=%s %s && for d in dev proc sys; do "
                 "mount --rbind /$d %s/$d || exit 1; done && "
                 "exec chroot %s /usr/bin/env -i %s /bin/sh -c %s" % (
                     q(self.upper), q(self.wk), q(self.merged),
                     q(self.merged), q(self.merged), env,
                     q("cd %s && %s" % (shlex.quote(self.workdir), script))))
        return subprocess.call(["unshare", "-m", "--propagation", "private",
                                "/bin/sh", "-c", inner])


def q(s):
    return shlex.quote(s)


def copy_into(src, dst_dir_or_file, dst_is_dir, upper, pats=None, ctx=None):
    """Docker COPY of one source (file or directory) into an upper dir."""
    target = os.path.join(upper, dst_dir_or_file.lstrip("/"))
    if os.path.isdir(src):
        for root, dirs, files in os.walk(src):
            rel_root = os.path.relpath(root, src)
            if pats is not None:
                base = os.path.relpath(root, ctx)
                dirs[:] = [d for d in dirs if not ignored(
                    os.path.normpath(os.path.join(base, d)), pats)]
                files = [f for f in files if not ignored(
                    os.path.normpath(os.path.join(base, f)), pats)]
            os.makedirs(os.path.join(target, rel_root), exist_ok=True)
            for f in files:
                s = os.path.join(root, f)
                d = os.path.join(target, rel_root, f)
                if os.path.islink(s):
                    os.symlink(os.readlink(s), d)
                else:
                    shutil.copy2(s, d)
        return
    if dst_is_dir:
        os.makedirs(target, exist_ok=True)
        target = os.path.join(target, os.path.basename(src))
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(src, target)


def build(dockerfile, context, work, target=None):
    pats = ignore_patterns(dockerfile, context)
    stages, st, args = {}, None, {}
    for kw, text, line in parse(dockerfile):
        where = "%s:%d" % (dockerfile, line)
        if kw == "FROM" and st is not None and st.name == target:
            break
        if kw == "FROM":
            words = text.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" \
                else None
            st = Stage(work, name, len(stages))
            st.base = words[0]
            stages[st.name] = st
            print("== FROM %s (%s)" % (text, where), flush=True)
            continue
        if st is None:
            if kw == "ARG":
                k, _, v = text.partition("=")
                args[k] = v
                continue
            die("%s: %s before FROM" % (where, kw))
        if kw == "ARG":
            k, _, v = text.partition("=")
            st.env.setdefault(k, args.get(k, v))
        elif kw == "ENV":
            for tok in shlex.split(text):
                k, eq, v = tok.partition("=")
                if not eq:
                    die("%s: ENV needs KEY=VALUE" % where)
                st.env[k] = v
        elif kw == "WORKDIR":
            st.workdir = os.path.join(st.workdir, text)
            os.makedirs(os.path.join(st.upper, st.workdir.lstrip("/")),
                        exist_ok=True)
        elif kw == "USER":
            st.user = text
        elif kw == "EXPOSE":
            st.expose += text.split()
        elif kw in ("ENTRYPOINT", "CMD"):
            try:
                v = json.loads(text)
            except ValueError:
                die("%s: %s must be in JSON (exec) form" % (where, kw))
            if kw == "ENTRYPOINT":
                st.entrypoint = v
            else:
                st.cmd = v
        elif kw == "COPY":
            words = shlex.split(text)
            src_stage = None
            while words and words[0].startswith("--"):
                opt = words.pop(0)
                if opt.startswith("--from="):
                    src_stage = stages.get(opt[len("--from="):])
                    if src_stage is None:
                        die("%s: unknown stage in %s" % (where, opt))
                else:
                    die("%s: COPY option %s not supported" % (where, opt))
            *srcs, dst = words
            dst_is_dir = dst.endswith("/") or len(srcs) > 1
            if not dst.startswith("/"):
                dst = os.path.join(st.workdir, dst)
            for s in srcs:
                if src_stage is not None:
                    p = src_stage.path(s)
                    copy_into(p, dst, dst_is_dir or os.path.isdir(p),
                              st.upper)
                else:
                    p = os.path.normpath(os.path.join(context, s))
                    if not os.path.exists(p):
                        die("%s: COPY %s: not in the context %s" % (
                            where, s, context))
                    rel = os.path.relpath(p, context)
                    if rel != "." and ignored(rel, pats):
                        die("%s: COPY %s: excluded by .dockerignore" % (
                            where, s))
                    copy_into(p, dst, dst_is_dir or os.path.isdir(p),
                              st.upper, pats, context)
            print("-- COPY %s (%s)" % (text, where), flush=True)
        elif kw == "RUN":
            if text.startswith("apt-get update"):
                pk = text.split("install", 1)[1].split("&&")[0].split()
                pk = [p for p in pk if not p.startswith("-")]
                st.packages += pk
                missing = []
                for p in pk:
                    r = subprocess.run(
                        ["dpkg-query", "-W", "-f=${Status}", p],
                        capture_output=True, text=True)
                    if "install ok installed" not in r.stdout:
                        missing.append(p)
                if missing:
                    die("%s: packages not installed here: %s" % (
                        where, " ".join(missing)))
                print("-- RUN apt-get ...: %d packages present (%s)" % (
                    len(pk), where), flush=True)
                continue
            print("-- RUN %s (%s)" % (text, where), flush=True)
            rc = st.sh(text)
            if rc != 0:
                die("%s: RUN failed with status %d" % (where, rc))
        elif kw in ("LABEL", "MAINTAINER", "STOPSIGNAL", "HEALTHCHECK",
                    "SHELL", "VOLUME", "ONBUILD", "ADD"):
            if kw in ("SHELL", "ADD", "ONBUILD"):
                die("%s: %s not supported by this replay" % (where, kw))
        else:
            die("%s: unknown instruction %s" % (where, kw))
    if st is None:
        die("no FROM in %s" % dockerfile)
    if target is not None and st.name != target:
        die("no stage %s in %s" % (target, dockerfile))
    for s in stages.values():
        with open(s.dir + ".packages", "w") as f:
            f.write("\n".join(s.packages) + "\n")
    image = {"stage": st.name, "dir": st.dir, "upper": st.upper,
             "work": st.wk, "merged": st.merged, "env": st.env,
             "workdir": st.workdir, "user": st.user,
             "entrypoint": st.entrypoint, "cmd": st.cmd,
             "expose": st.expose, "packages": st.packages}
    with open(os.path.join(work, "image.json"), "w") as f:
        json.dump(image, f, indent=1)
    print("== image: %s" % os.path.join(work, "image.json"))


def user_ids(img, user):
    name, _, group = user.partition(":")
    passwd = os.path.join(img["upper"], "etc/passwd")
    if not os.path.exists(passwd):
        passwd = "/etc/passwd"
    for l in open(passwd):
        f = l.rstrip("\n").split(":")
        if f[0] == name or f[2] == name:
            return int(f[2]), int(group or f[3]), f[5]
    die("user %s not in the image's /etc/passwd" % name)


def run(work, argv):
    img = json.load(open(os.path.join(work, "image.json")))
    env = dict(img["env"])
    pub, binds, etc, extra, tmpfs, ro = [], [], [], None, [], False
    rovols = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            extra = argv[i + 1:]
            break
        if a == "--read-only":
            ro = True
            i += 1
            continue
        if a in ("--publish", "-e", "--bind", "--etc", "--tmpfs",
                 "--cmd-json", "--ro") and i + 1 < len(argv):
            v = argv[i + 1]
            if a == "--tmpfs":
                tmpfs.append(v)
            elif a == "--cmd-json":
                extra = json.loads(v)
            elif a == "--publish":
                pub.append(v.split("=", 1))
            elif a == "-e":
                k, _, val = v.partition("=")
                env[k] = val
            elif a == "--bind":
                binds.append(os.path.abspath(v))
            elif a == "--ro":
                src, _, dst = v.partition("=")
                rovols.append((os.path.abspath(src), dst))
            else:
                src, _, dst = v.partition("=")
                etc.append((os.path.abspath(src), dst))
            i += 2
            continue
        die("run: unknown argument %s" % a)
    cmd = img["entrypoint"] + (extra if extra is not None else img["cmd"])
    for frm, to in pub:
        cmd = [to if c == frm else c for c in cmd]
    uid, gid, home = user_ids(img, img["user"])
    m = img["merged"]
    script = ["mount -t overlay overlay -o lowerdir=/,upperdir=%s,workdir=%s"
              " %s" % (q(img["upper"]), q(img["work"]), q(m))]
    for d in ["/dev", "/proc", "/sys"] + binds:
        script.append("mkdir -p %s%s && mount --rbind %s %s%s" % (
            q(m), q(d), q(d), q(m), q(d)))
    for src, dst in etc:
        script.append("mount --bind %s %s%s" % (q(src), q(m), q(dst)))
    for src, dst in rovols:
        mk = "mkdir -p" if os.path.isdir(src) else "touch"
        script.append("%s %s%s && mount --bind %s %s%s && "
                      "mount -o remount,bind,ro %s%s" % (
                          mk, q(m), q(dst), q(src), q(m), q(dst), q(m),
                          q(dst)))
    for d in tmpfs:
        script.append("mkdir -p %s%s && mount -t tmpfs -o mode=1777 tmpfs %s%s"
                      % (q(m), q(d), q(m), q(d)))
    if ro:
        # The overlay only: /dev (with /dev/shm), /proc, /sys, the --etc
        # files and the tmpfs mounts keep their own modes, as in a pod.
        script.append("mount -o remount,ro %s" % q(m))
    full_env = [("PATH", DEFAULT_PATH), ("HOME", home)] + list(env.items())
    script.append(
        "exec chroot --userspec=%d:%d --groups=%d %s /usr/bin/env -i %s "
        "/bin/sh -c 'cd \"$0\" && exec \"$@\"' %s %s" % (
            uid, gid, gid, q(m),
            " ".join(q("%s=%s" % kv) for kv in full_env),
            q(img["workdir"]), " ".join(q(c) for c in cmd)))
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private",
                          "/bin/sh", "-c", " && ".join(script)])


def main():
    if len(sys.argv) in (5, 7) and sys.argv[1] == "build":
        target = None
        if len(sys.argv) == 7:
            if sys.argv[5] != "--target":
                die("build: unknown argument %s" % sys.argv[5])
            target = sys.argv[6]
        build(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]),
              os.path.abspath(sys.argv[4]), target)
    elif len(sys.argv) >= 3 and sys.argv[1] == "run":
        run(os.path.abspath(sys.argv[2]), sys.argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
