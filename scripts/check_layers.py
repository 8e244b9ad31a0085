#!/usr/bin/env python3
"""Checks src/'s include graph against the layering the README states.

The README has one line that starts with "Layers, lowest first:" and names the folders of src/
in order, each in backquotes. A file in one folder may include headers of its own folder and of
folders listed before it, never of a folder listed after it (src/main.cpp may include any).
Every folder of src/ must be listed. Exit 1 with one line per offending include.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_0-9]+)/[^"]+"', re.M)


def layers_from_readme():
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("Layers, lowest first:"):
            return re.findall(r"`([a-z_0-9]+)`", line)
    sys.exit("check_layers: no 'Layers, lowest first:' line in README.md")


def main():
    layers = layers_from_readme()
    rank = {name: i for i, name in enumerate(layers)}
    folders = sorted(p.name for p in (ROOT / "src").iterdir() if p.is_dir())
    problems = [f"src/{f}/ is not in the README's layers" for f in folders if f not in rank]
    problems += [f"README layer `{n}` is not a folder of src/" for n in layers if n not in folders]
    for path in sorted((ROOT / "src").rglob("*.[ch]pp")):
        relative = path.relative_to(ROOT / "src")
        if len(relative.parts) < 2 or relative.parts[0] not in rank:
            continue  # main.cpp wires everything
        own = relative.parts[0]
        for target in INCLUDE.findall(path.read_text()):
            if target in rank and rank[target] > rank[own]:
                problems.append(f"src/{relative}: includes {target}/, a higher layer than {own}/")
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"check_layers: {len(layers)} layers, no include upwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
