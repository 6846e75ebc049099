#!/usr/bin/env python3
"""Checks that the dependencies between the files of src/ run one way.

    python3 tools/check_layers.py [--cc CC] [--no-symbols] [--graph]

Run by .ci/run before anything is built; exits 1 with one line per problem.

What a module is: a header and the .c file of the same name next to it
(engine/group.h + engine/group.c). A .c file without a header of its own is a
module by itself (it implements a contract header such as platform/platform.h
or the public include/tofu.h). A header without a .c file (platform/poller.h,
util/list.h) is a module by itself.

The one exception, documented here and in docs/architecture.md: the channel
module is six files with one header. engine/channel.c (records and the state
machine) drives its parts engine/dial.c, engine/send.c, engine/recv.c,
engine/stall.c and engine/track.c, and the parts report back to it, so these files call each
other; together they form the module engine/channel, and nothing outside it
sees the difference.

Checks:
  1. includes: the graph "module A includes a header of module B" has no
     cycle;
  2. symbols: each src/ file is compiled for this host and its objects'
     undefined symbols are matched with the defined ones; the graph "module A
     uses a function or variable defined in module B" has no cycle (this also
     catches a dependency hidden behind the public header, e.g. an engine
     file calling a public tofu_ function that another engine file defines);
  3. the include graph is the dependency graph: a file that uses a symbol
     declared in an internal header reaches that header through the includes
     of its own module (symbols of the public header include/tofu.h are
     exempt: every file sees it);
  4. no file of src/ includes the umbrella header engine/engine_int.h, which
     is for code outside the engine (tests);
  5. a file includes no project header of which it uses nothing (an
     identifier that the header declares must appear in the file).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
PUBLIC = os.path.join(ROOT, "include", "tofu.h")
UMBRELLA = "engine/engine_int.h"

# The documented exception: files that belong to another file's module.
MODULE_PARTS = {
    "engine/dial.c": "engine/channel",
    "engine/send.c": "engine/channel",
    "engine/recv.c": "engine/channel",
    "engine/stall.c": "engine/channel",
    "engine/track.c": "engine/channel",
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def source_files():
    """Every .c and .h under src/, as paths relative to src/."""
    out = []
    for dirpath, _, names in os.walk(SRC):
        for n in names:
            if n.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(dirpath, n), SRC).replace(os.sep, "/"))
    return sorted(out)


def module_of(rel, files):
    stem = rel[:-2]
    if rel.endswith(".h"):
        return stem
    if stem + ".h" in files:
        return stem
    return MODULE_PARTS.get(rel, stem)


def includes_of(rel, files, problems):
    """Project headers a file includes (tofu.h, the public header, left out)."""
    out = []
    for inc in INCLUDE_RE.findall(read(os.path.join(SRC, rel))):
        if inc == "tofu.h":
            continue
        if inc not in files:
            problems.append(f"{rel}: includes \"{inc}\", which is no file of src/ "
                            "(project includes name their folder: \"msg/wire.h\")")
            continue
        out.append(inc)
    return out


def find_cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sccs


def reachable(graph, start):
    seen, todo = {start}, [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def declared_names(text):
    """Identifiers a header declares: functions, variables, types, struct and
    enum tags, enum constants, macros."""
    text = strip_comments(text)
    names = set(re.findall(r"^\s*#\s*define\s+([A-Za-z_]\w*)", text, re.M))
    names |= set(re.findall(r"\b(?:struct|enum|union)\s+([A-Za-z_]\w*)\s*\{", text))
    names |= set(re.findall(r"\}\s*([A-Za-z_]\w*)\s*;", text))
    names |= set(re.findall(r"\btypedef\b[^;{]*?\b([A-Za-z_]\w*)\s*;", text))
    names |= set(re.findall(r"\btypedef\b[^;{(]*\(\s*\*\s*([A-Za-z_]\w*)\s*\)", text))
    # functions (prototypes and static inline definitions) and variables at
    # file scope: the identifier before "(" or ";" on a line that starts a
    # declaration.
    depth = 0
    for line in text.split("\n"):
        if line.startswith("#") or 'extern "C"' in line:
            continue  # preprocessor lines, and C++ linkage braces
        if depth == 0 and not line.startswith((" ", "\t", "}")):
            m = re.search(r"\b([A-Za-z_]\w*)\s*\(", line)
            if m:
                names.add(m.group(1))
        depth = max(0, depth + line.count("{") - line.count("}"))
    for body in re.findall(r"\benum\b[^{;]*\{([^}]*)\}", text):
        names |= set(re.findall(r"^\s*([A-Z_][A-Z0-9_]*)\s*[=,\n]", body + "\n", re.M))
    return names


# ---- symbols ------------------------------------------------------------------


def host_sources(files):
    """The .c files a build on this host compiles (Linux: epoll; else poll)."""
    poller = "platform/poller_epoll.c" if sys.platform.startswith("linux") else "platform/poller_poll.c"
    out = []
    for rel in files:
        if not rel.endswith(".c"):
            continue
        base = os.path.basename(rel)
        if base.startswith("win_") or base == "poller_afd.c":
            continue
        if base.startswith("poller_") and rel != poller:
            continue
        out.append(rel)
    return out


def nm_symbols(cc, nm, sources):
    """{file: (defined, undefined)} from objects compiled for this host."""
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel in sources:
            obj = os.path.join(tmp, rel.replace("/", "_") + ".o")
            cmd = [cc, "-std=c11", "-O0", "-w", "-DTOFU_BUILDING", "-I", SRC,
                   "-I", os.path.join(ROOT, "include"), "-c", os.path.join(SRC, rel), "-o", obj]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"check_layers: cannot compile {rel}:\n{r.stderr}")
            out = subprocess.run([nm, "-P", obj], capture_output=True, text=True, check=True).stdout
            defined, undefined = set(), set()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) < 2:
                    continue
                name, kind = parts[0], parts[1]
                if kind == "U":
                    undefined.add(name)
                elif kind.isupper():
                    defined.add(name)
            result[rel] = (defined, undefined)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--no-symbols", action="store_true", help="skip checks 2 and 3")
    ap.add_argument("--graph", action="store_true", help="print the module include graph")
    args = ap.parse_args()

    files = source_files()
    fileset = set(files)
    problems = []
    module = {rel: module_of(rel, fileset) for rel in files}
    incs = {rel: includes_of(rel, fileset, problems) for rel in files}

    # 1. includes between modules
    graph = {m: set() for m in module.values()}
    for rel in files:
        for inc in incs[rel]:
            if module[inc] != module[rel]:
                graph[module[rel]].add(module[inc])
    for scc in find_cycles(graph):
        problems.append("include cycle between modules: " + " <-> ".join(scc))

    # 4. the umbrella
    for rel in files:
        if UMBRELLA in incs[rel]:
            problems.append(f"{rel}: includes {UMBRELLA}, which is for code outside the engine")

    # 5. includes of which nothing is used
    declared = {rel: declared_names(read(os.path.join(SRC, rel))) for rel in files if rel.endswith(".h")}
    for rel in files:
        if rel == UMBRELLA:
            continue
        tokens = set(IDENT_RE.findall(strip_comments(read(os.path.join(SRC, rel)))))
        for inc in incs[rel]:
            if not declared[inc] & tokens:
                problems.append(f"{rel}: includes {inc} but uses nothing it declares")

    # 2 and 3: symbols
    if not args.no_symbols:
        nm = shutil.which("nm")
        if shutil.which(args.cc) is None or nm is None:
            sys.exit(f"check_layers: needs a C compiler ({args.cc}) and nm; --no-symbols skips them")
        syms = nm_symbols(args.cc, nm, host_sources(files))
        definer = {}
        for rel, (defined, _) in syms.items():
            for s in defined:
                definer[s] = rel
        public = declared_names(read(PUBLIC))
        declaring = {}
        for h, names in declared.items():
            for n in names:
                declaring.setdefault(n, set()).add(h)
        sym_graph = {m: set() for m in graph}
        for rel, (_, undefined) in syms.items():
            for s in sorted(undefined):
                d = definer.get(s)
                if d is None or module[d] == module[rel]:
                    continue
                sym_graph[module[rel]].add(module[d])
                if s in public:
                    continue
                heads = declaring.get(s, set())
                seen = reachable(graph, module[rel])
                if not any(module[h] in seen for h in heads):
                    where = ", ".join(sorted(heads)) or "no header"
                    problems.append(f"{rel}: uses {s} ({where}) without including its header")
        for scc in find_cycles(sym_graph):
            problems.append("symbol cycle between modules: " + " <-> ".join(scc))

    if args.graph:
        for m in sorted(graph):
            print(f"{m}: {' '.join(sorted(graph[m])) or '-'}")
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} problem(s)")
        return 1
    modules = sorted(set(module.values()))
    print(f"check_layers: {len(files)} files, {len(modules)} modules, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
