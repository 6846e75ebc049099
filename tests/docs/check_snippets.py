#!/usr/bin/env python3
"""Compiles every C snippet of a Markdown file: the guide's code must not rot.

    check_snippets.py CC INCLUDE_DIR FILE.md

Each ```c block becomes a block of its own inside one function, after
declarations of the names the guide's snippets share (the engine `e`, the
group `g`, a `channel`, a message `m`): a snippet may use what an earlier step
of the guide made, and may declare its own names. A block that is a whole
program or function (it has `#include` or a top-level definition) is compiled
as it stands. The result is compiled with -Wall -Wextra -Werror (unused names
and labels excepted: a fragment need not use everything); the exit status is
the compiler's, and a file without snippets fails (the extraction broke).
"""
import re
import subprocess
import sys
import tempfile

PRELUDE = """#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tofu.h"

"""

CONTEXT = """    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    uint16_t channel = 0;
    tofu_msg *m = NULL;
    tofu_bhdr h;
    (void)e; (void)g; (void)channel; (void)m; (void)h;
"""


def snippets(text):
    """The ```c blocks, dedented, with the line each starts on."""
    out = []
    for match in re.finditer(r"^([ \t]*)```c[ \t]*\n(.*?)^[ \t]*```", text, re.M | re.S):
        indent = len(match.group(1))
        lines = [l[indent:] if l[:indent].strip() == "" else l
                 for l in match.group(2).splitlines()]
        out.append((text.count("\n", 0, match.start()) + 2, "\n".join(lines)))
    return out


def is_whole(code):
    return "#include" in code or re.search(r"^(int|void|static)\b.*\)\s*\{", code, re.M)


def main():
    cc, include, path = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        found = snippets(f.read())
    if not found:
        print("no ```c snippets found in %s" % path)
        return 1
    body, wholes = [], []
    for line, code in found:
        if is_whole(code):
            wholes.append((line, code))
            continue
        body.append('#line %d "%s"\n    {\n%s\n    }\n' % (line, path, code))
    sources = [PRELUDE + "void guide_snippets(void);\nvoid guide_snippets(void) {\n" + CONTEXT +
               "".join(body) + "}\n"]
    for line, code in wholes:
        sources.append('#line %d "%s"\n%s\n' % (line, path, code))
    rc = 0
    for i, src in enumerate(sources):
        with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
            f.write(src)
            name = f.name
        cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
               "-Wno-unused-label", "-Wno-unused-but-set-variable", "-I", include, "-c", name,
               "-o", name + ".o"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            rc = 1
    print("%d snippets of %s compiled%s" % (len(found), path, "" if rc == 0 else ": FAILED"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
