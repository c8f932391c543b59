#!/usr/bin/env python3
"""bench/perf_top.py: the top of a `perf report --stdio -g none` listing, readable.

    perf report --no-children --sort dso,symbol -g none --stdio | bench/perf_top.py [N]
    perf report --children --sort dso,symbol -g none --stdio | bench/perf_top.py --children [N]

Lines are "  pct%  dso  [.] symbol" (with --children: "children%  self%  dso  [.] symbol",
leaving out the frames every sample shares: thread start, the event loop, syscall entry,
and folding a run of frames with the same share, a call chain, into one row). Debian's librocksdb is stripped of its internal
symbols, so perf shows raw addresses there; they are summed into one row per library,
except the addresses of the table-driven CRC32C loop in Debian's librocksdb 7.8.3 build
(identified by disassembly: its lookup tables hold the Castagnoli table, 0xF26B8303 at
index 1), which get their own name. Prints the top N rows (default 18)."""
import re
import subprocess
import sys

# Debian 12 librocksdb7.8 7.8.3-2, by build id: [start, end) of the software CRC32C
# (slicing over 16-byte strides, no SSE4.2 path in this build).
CRC32C_RANGES = {"cb4c0e6449665561835c19fc7d5312f17836bf22": (0x79E4B0, 0x79E700)}
LIB = "/usr/lib/x86_64-linux-gnu/librocksdb.so.7.8.3"


def build_id(path):
    try:
        out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


GENERIC = {"clone3", "start_thread", "event_base_loop", "thread_main", "entry_SYSCALL_64_after_hwframe",
           "do_syscall_64", "bufferevent_run_readcb_", "0xffffffffffffffff"}


def children(top):
    line_re = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*(-\s+-\s*)?$")
    rows = []
    for line in sys.stdin:
        m = line_re.match(line)
        if not m or m.group(5) in GENERIC or re.fullmatch(r"0x[0-9a-f]+", m.group(5)):
            continue
        rows.append((float(m.group(1)), float(m.group(2)), m.group(3), m.group(4), m.group(5)))
    # A call chain of single callees shows up as a run of rows with the same share in one
    # object; one row stands for the run, naming its last frame.
    groups = []
    for r in rows:
        if groups and groups[-1][-1][2] == r[2] and abs(groups[-1][-1][0] - r[0]) < 0.05:
            groups[-1].append(r)
        else:
            groups.append([r])
    width = max([len(g[0][2]) for g in groups[:top]] + [10])
    for g in groups[:top]:
        total, own, dso, kind, sym = g[0]
        if len(g) > 1:
            sym += f"  (+{len(g) - 1} frame{'s' if len(g) > 2 else ''} at the same share, to {g[-1][4]})"
        print(f"{total:7.2f}% {own:6.2f}%  {dso:<{width}}  [{kind}] {sym}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--children":
        return children(int(sys.argv[2]) if len(sys.argv) > 2 else 24)
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 18
    crc = CRC32C_RANGES.get(build_id(LIB))
    rows = {}
    line_re = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*(-\s+-\s*)?$")
    for line in sys.stdin:
        m = line_re.match(line)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        if re.fullmatch(r"0x[0-9a-f]+", sym):
            addr = int(sym, 16)
            if crc and dso.startswith("librocksdb") and crc[0] <= addr < crc[1]:
                sym = "crc32c, table-driven software loop (no symbol in Debian's build)"
            else:
                sym = "(internal functions without symbols, summed)"
        key = (dso, kind, sym)
        rows[key] = rows.get(key, 0.0) + pct
    width = max([len(d) for d, _, _ in rows] + [10])
    for (dso, kind, sym), pct in sorted(rows.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{pct:7.2f}%  {dso:<{width}}  [{kind}] {sym}")


if __name__ == "__main__":
    main()
