#!/usr/bin/env bash
# Every relative link in README.md and docs/*.md leads somewhere: the file
# exists and, for a #anchor, the target Markdown file has a heading with
# that anchor (GitHub's rule: lower case, punctuation but - and _ dropped,
# spaces to -, a repeated heading -1, -2, ...). Same-file #anchors too.
# The README was split into docs/ (issue 16); this keeps the pieces joined.
# timeout: 30
. "$(dirname "$0")/../lib.sh"
require /usr/bin/python3

files=$(cd "$TOP" && ls README.md docs/*.md)
check "README.md and docs/ are there" test -n "$(echo "$files" | grep docs/)"
out=$(cd "$TOP" && /usr/bin/python3 - $files <<'PY'
import os, re, sys

def anchors(path):
    seen, out, fence = {}, set(), False
    for line in open(path, encoding="utf-8"):
        if re.match(r"^\s*(```|~~~)", line):
            fence = not fence
            continue
        m = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else "%s-%d" % (slug, n))
    return out

bad = 0
for src in sys.argv[1:]:
    text = open(src, encoding="utf-8").read()
    text = re.sub(r"(?ms)^\s*```.*?^\s*```", "", text)  # no links in code
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, frag = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(src), path)) if path else src
        if not os.path.exists(dest):
            print("%s: %s: no such file" % (src, target)); bad += 1
        elif frag and dest.endswith(".md") and frag not in anchors(dest):
            print("%s: %s: no such heading" % (src, target)); bad += 1
print("%d bad" % bad)
PY
)
check_eq "every relative link resolves" "0 bad" "$out"
