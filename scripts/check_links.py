#!/usr/bin/env python3
"""Every link in the repository's Markdown (README.md, docs/*.md) resolves inside it: a relative
path names a file or folder of the repository, an anchor names a heading of its file. Links to
outside the repository (http...) fail: the repository stands alone. A link that climbs out of its
file's folder (../) fails too: a reader of one page may have that folder only; name the file.
Exit 1 with one line per broken link."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(path):
    """GitHub's heading ids: lowercase, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(text.replace(" ", "-"))
    return out


def check(path):
    problems = []
    text = FENCE.sub("", path.read_text())
    for target in LINK.findall(text):
        where = f"{path.relative_to(ROOT)}: ({target})"
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            problems.append(f"{where} leaves the repository")
            continue
        if target.startswith("../") or "/../" in target:
            problems.append(f"{where} climbs out of its folder")
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if ROOT not in resolved.parents and resolved != ROOT:
            problems.append(f"{where} points outside the repository")
        elif not resolved.exists():
            problems.append(f"{where} does not exist")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where} names no heading of {resolved.relative_to(ROOT)}")
    return problems


def main():
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    problems = [p for f in files for p in check(f)]
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"check_links: {len(files)} files, every link resolves inside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
