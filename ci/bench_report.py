#!/usr/bin/env python3
"""Write benches/RESULTS.md and benches/results.svg from benchmark results.

ci/bench.sh runs the benchmarks and then this script; it can also be rerun
alone on the results already there (`python3 ci/bench_report.py`). It reads:

  <target>/criterion/<row>/<runtime>/new/estimates.json, benchmark.json
                                   criterion's medians (scheduler rows)
  <target>/criterion/<row>/<runtime>/cpu.json
                                   process CPU per element (scheduler rows)
  <target>/memory/summary.json     bytes per idle task, idle CPU
  <target>/http-bench/summary.json HTTP req/s, CPU and syscalls per request
  <target>/echo-bench/summary.json TCP echo msgs/s, latency, CPU per message
  <target>/bench-run/run.json      what ci/bench.sh ran: sections, commands,
                                   exit statuses, load average, dates

Any of them may be missing: the cells it would fill show —. When run.json
exists, only the sections it lists are reported, and an input older than
the run's start is ignored (left over from an earlier run). Without it,
every input found is reported and the machine is described as it is now.

<target> is $BENCH_TARGET_DIR, else $CARGO_TARGET_DIR, else target/ in the
repository. Every path can be overridden by env (for tests with hand-made
inputs): BENCH_CRITERION_DIR, BENCH_MEMORY_JSON, BENCH_HTTP_JSON,
BENCH_ECHO_JSON, BENCH_RUN_JSON, and for the outputs BENCH_RESULTS_MD,
BENCH_RESULTS_SVG. SCALING_MD names a markdown file that replaces the
"not measured" text of the Scaling section.

No dependencies beyond the Python standard library.
"""

import datetime
import html
import json
import math
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIMES = ["weft", "tokio", "smol"]
PEERS = ["tokio", "smol"]
FLOOR = "mio"
SECTIONS = ["scheduler", "memory", "http", "echo"]


def env_path(var, default):
    return os.environ.get(var) or default


TARGET = os.environ.get("BENCH_TARGET_DIR") or os.environ.get("CARGO_TARGET_DIR") or os.path.join(
    REPO, "target"
)
CRITERION_DIR = env_path("BENCH_CRITERION_DIR", os.path.join(TARGET, "criterion"))
MEMORY_JSON = env_path("BENCH_MEMORY_JSON", os.path.join(TARGET, "memory", "summary.json"))
HTTP_JSON = env_path("BENCH_HTTP_JSON", os.path.join(TARGET, "http-bench", "summary.json"))
ECHO_JSON = env_path("BENCH_ECHO_JSON", os.path.join(TARGET, "echo-bench", "summary.json"))
RUN_JSON = env_path("BENCH_RUN_JSON", os.path.join(TARGET, "bench-run", "run.json"))
OUT_MD = env_path("BENCH_RESULTS_MD", os.path.join(REPO, "benches", "RESULTS.md"))
OUT_SVG = env_path("BENCH_RESULTS_SVG", os.path.join(REPO, "benches", "results.svg"))


# --- inputs ------------------------------------------------------------------


def load_json(path, since):
    """The parsed file, or None if missing, unreadable or older than `since`."""
    try:
        if since is not None and os.path.getmtime(path) < since:
            return None
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def dig(obj, *keys):
    """obj[k0][k1]... as a float, or None anywhere along the way."""
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        return None
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return float(obj)


class Inputs:
    def __init__(self):
        self.run = load_json(RUN_JSON, None)
        since = self.run.get("start_epoch") if self.run else None
        self.since = since
        self.sections = (self.run or {}).get("sections") or list(SECTIONS)
        self.memory = load_json(MEMORY_JSON, since) if "memory" in self.sections else None
        self.http = load_json(HTTP_JSON, since) if "http" in self.sections else None
        self.echo = load_json(ECHO_JSON, since) if "echo" in self.sections else None

    def criterion(self, row, runtime, name):
        if "scheduler" not in self.sections:
            return None
        return load_json(os.path.join(CRITERION_DIR, row, runtime, name), self.since)

    def median_per_element(self, row, runtime):
        """criterion's median ns per iteration / elements per iteration."""
        est = self.criterion(row, runtime, os.path.join("new", "estimates.json"))
        meta = self.criterion(row, runtime, os.path.join("new", "benchmark.json")) or {}
        median = dig(est, "median", "point_estimate")
        if median is None:
            return None
        elements = dig(meta, "throughput", "Elements") or 1.0
        return median / elements


# --- rows --------------------------------------------------------------------


class Row:
    """One line of the table.

    get(inputs, runtime) -> value or None, for weft/tokio/smol and the floor.
    higher: True where more is better (req/s, msgs/s).
    target: (kind, value) with kind one of
      "peer"  ratio to the best peer: <= value (or >= value when higher)
      "floor" ratio to the floor <= value
      "abs"   weft's own figure <= value
      None    no target (shown for reference)
    """

    def __init__(self, name, unit, section, get, higher=False, target=("peer", 1.0), floor=False):
        self.name, self.unit, self.section = name, unit, section
        self.get, self.higher, self.target, self.floor = get, higher, target, floor


def crit(row, scale=1.0):
    def get(inp, rt):
        v = inp.median_per_element(row, rt)
        return None if v is None else v * scale

    return get


def cpu(row, key):
    return lambda inp, rt: dig(inp.criterion(row, rt, "cpu.json"), key)


def memory(key):
    return lambda inp, rt: dig(inp.memory, rt, key)


def http_conn(conns, key):
    return lambda inp, rt: dig(inp.http, "connections", conns, rt, key)


def http_sys(key):
    return lambda inp, rt: dig(inp.http, "syscalls", rt, key)


def echo(key):
    return lambda inp, rt: dig(inp.echo, "servers", rt, key)


ROWS = [
    Row("spawn_many_local", "ns/task", "scheduler", crit("spawn_many_local")),
    Row("spawn_many_remote_idle", "ns/task", "scheduler", crit("spawn_many_remote_idle")),
    Row("spawn_many_remote_busy", "ns/task", "scheduler", crit("spawn_many_remote_busy")),
    Row("ping_pong", "ns/round trip", "scheduler", crit("ping_pong")),
    Row("yield_many", "ns/yield", "scheduler", crit("yield_many")),
    Row("chained_spawn", "ns/spawn", "scheduler", crit("chained_spawn")),
    Row("chained_spawn CPU", "CPU ns/spawn", "scheduler", cpu("chained_spawn", "cpu_ns_per_element")),
    Row("timers", "ms past last deadline", "scheduler", crit("timers", 1e-6)),
    Row("timers CPU", "CPU ms/iteration", "scheduler", cpu("timers", "cpu_ms_per_iteration")),
    Row("spawn_blocking", "µs/call", "scheduler", crit("spawn_blocking", 1e-3)),
    Row("memory per idle task", "bytes/task", "memory", memory("bytes_per_task")),
    Row("idle CPU", "CPU ms in 2 s", "memory", memory("idle_cpu_ms"), target=("abs", 0.0)),
    Row("HTTP keep-alive c100", "req/s", "http", http_conn("100", "req_per_s"), higher=True, floor=True),
    Row("HTTP keep-alive c1000", "req/s", "http", http_conn("1000", "req_per_s"), higher=True, floor=True),
    Row("syscalls/request (perf)", "syscalls/req", "http", http_sys("perf"), target=("abs", 2.05), floor=True),
    Row("syscalls/request (strace)", "syscalls/req", "http", http_sys("strace"), target=("abs", 2.05), floor=True),
    Row("server CPU/request c100", "CPU µs/req", "http", http_conn("100", "cpu_us_per_req"), target=("floor", 1.05), floor=True),
    Row("TCP echo throughput", "msgs/s", "echo", echo("msgs_per_s"), higher=True, floor=True),
    Row("TCP echo p99.9 latency", "µs", "echo", echo("p999_us"), floor=True),
    Row("TCP echo CPU/message", "CPU µs/msg", "echo", echo("cpu_us_per_msg"), target=None, floor=True),
]

# Rows of the scheduler's supplementary CPU table: (criterion group, unit,
# key in cpu.json).
PER_ELEMENT = "cpu_ns_per_element"
CPU_ROWS = [
    ("spawn_many_local", "ns/task", PER_ELEMENT),
    ("spawn_many_remote_idle", "ns/task", PER_ELEMENT),
    ("spawn_many_remote_busy", "ns/task", PER_ELEMENT),
    ("ping_pong", "ns/round trip", PER_ELEMENT),
    ("yield_many", "ns/yield", PER_ELEMENT),
    ("chained_spawn", "ns/spawn", PER_ELEMENT),
    ("timers", "ms/iteration", "cpu_ms_per_iteration"),
    ("spawn_blocking", "ns/call", PER_ELEMENT),
]


class Result:
    """A row's figures and ratios from one run."""

    def __init__(self, row, inp):
        self.row = row
        self.vals = {rt: row.get(inp, rt) for rt in RUNTIMES + [FLOOR]}
        if not row.floor:
            self.vals[FLOOR] = None
        peers = [(self.vals[p], p) for p in PEERS if self.vals[p] is not None]
        self.best, self.best_name = (None, None)
        if peers:
            self.best, self.best_name = (max if row.higher else min)(peers)
        w, f = self.vals["weft"], self.vals[FLOOR]
        self.ratio_peer = w / self.best if w is not None and self.best else None
        self.ratio_floor = w / f if w is not None and f else None

    def meets(self):
        """True/False against the row's target, None if it cannot be told."""
        if self.row.target is None:
            return None
        kind, limit = self.row.target
        # Judged on the figures as printed (two decimals), so that a "1.00"
        # never reads as a miss.
        if kind == "peer" and self.ratio_peer is not None:
            ratio = round(self.ratio_peer, 2)
            return ratio >= limit if self.row.higher else ratio <= limit
        if kind == "floor" and self.ratio_floor is not None:
            return round(self.ratio_floor, 2) <= limit
        if kind == "abs" and self.vals["weft"] is not None:
            return round(self.vals["weft"], 2) <= limit
        return None

    def relative(self, rt):
        """rt's figure relative to the best peer, oriented so lower is better."""
        v = self.vals[rt]
        if v is None or not self.best or v < 0 or (self.row.higher and v == 0):
            return None
        return self.best / v if self.row.higher else v / self.best


# --- formatting --------------------------------------------------------------


def fmt(v):
    if v is None:
        return "—"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def mark(ok):
    return {True: " ✓", False: " ✗", None: ""}[ok]


def target_text(row):
    if row.target is None:
        return "none (reference)"
    kind, limit = row.target
    if kind == "peer":
        return f"{'≥' if row.higher else '≤'} {limit:.2f} × best peer"
    if kind == "floor":
        return f"≤ {limit:.2f} × floor"
    return f"≤ {fmt(limit)} {row.unit}" if limit else f"{fmt(limit)} {row.unit.split(' in ')[0]}"


def table(results):
    lines = [
        "| row | unit | weft | tokio | smol | floor (mio) | weft / best peer | weft / floor | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        kind = r.row.target[0] if r.row.target else None
        ok = r.meets()
        weft = fmt(r.vals["weft"]) + (mark(ok) if kind == "abs" else "")
        peer = "—"
        if r.ratio_peer is not None:
            peer = f"{r.ratio_peer:.2f}{mark(ok) if kind == 'peer' else ''} (vs {r.best_name})"
        floor = "—"
        if r.ratio_floor is not None:
            floor = f"{r.ratio_floor:.2f}{mark(ok) if kind == 'floor' else ''}"
        lines.append(
            f"| {r.row.name} | {r.row.unit} | {weft} | {fmt(r.vals['tokio'])} | {fmt(r.vals['smol'])} "
            f"| {fmt(r.vals[FLOOR]) if r.row.floor else ''} | {peer} | {floor} | {target_text(r.row)} |"
        )
    return "\n".join(lines)


def cpu_table(inp):
    lines = [
        "| row | unit (CPU) | weft | tokio | smol | weft / best peer | weft cores busy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    any_value = False
    for group, unit, key in CPU_ROWS:
        files = {rt: inp.criterion(group, rt, "cpu.json") for rt in RUNTIMES}
        vals = {rt: dig(files[rt], key) for rt in RUNTIMES}
        any_value |= any(v is not None for v in vals.values())
        peers = [(vals[p], p) for p in PEERS if vals[p] is not None]
        ratio = "—"
        if vals["weft"] is not None and peers:
            best, name = min(peers)
            if best:
                ratio = f"{vals['weft'] / best:.2f} (vs {name})"
        busy = "—"
        wall, cpu_ns = dig(files["weft"], "wall_ns"), dig(files["weft"], "cpu_ns")
        if wall and cpu_ns is not None:
            busy = f"{cpu_ns / wall:.2f}"
        lines.append(
            f"| {group} | {unit} | {fmt(vals['weft'])} | {fmt(vals['tokio'])} | {fmt(vals['smol'])} "
            f"| {ratio} | {busy} |"
        )
    return "\n".join(lines) if any_value else None


# --- chart -------------------------------------------------------------------

COLORS = {"weft": "#d95f02", "tokio": "#1b9e77", "smol": "#7570b3", FLOOR: "#999999"}
LABELS = {"weft": "weft", "tokio": "tokio", "smol": "smol", FLOOR: "mio floor"}
CLIP = 3.0  # bars longer than this are cut, and say their length
# A white outline under label text, so grid lines do not cross it.
HALO = 'stroke="white" stroke-width="3" paint-order="stroke"'


def svg_chart(results, run):
    drawn = [r for r in results if any(r.relative(rt) is not None for rt in RUNTIMES)]
    left_drawn = [r.row.name for r in results if r not in drawn]
    bar_h, gap = 13, 14
    left, plot_w, right = 190, 430, 170
    width = left + plot_w + right
    top_ratio = max([r.relative(rt) or 0 for r in drawn for rt in RUNTIMES + [FLOOR]] + [1.0])
    axis_max = min(CLIP, math.ceil(top_ratio * 2 + 0.25) / 2)
    axis_max = max(axis_max, 1.5)
    scale = plot_w / axis_max
    esc = html.escape

    y0 = 86
    out_rows = []
    y = y0
    for r in drawn:
        bars = RUNTIMES + ([FLOOR] if r.row.floor else [])
        mid = y + len(bars) * bar_h / 2
        unit = f"{r.row.unit}, inverted" if r.row.higher else r.row.unit
        out_rows.append(f'<text x="{left - 8}" y="{mid - 2:.1f}" text-anchor="end" font-weight="bold">{esc(r.row.name)}</text>')
        out_rows.append(f'<text x="{left - 8}" y="{mid + 11:.1f}" text-anchor="end" fill="#555">{esc(unit)}</text>')
        for rt in bars:
            rel = r.relative(rt)
            if rel is None:
                out_rows.append(f'<text x="{left + 4}" y="{y + 10}" fill="#555" {HALO}>{LABELS[rt]}: no result</text>')
                y += bar_h
                continue
            w = max(1.5, min(rel, axis_max) * scale)
            out_rows.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{COLORS[rt]}"/>'
            )
            label = f"{LABELS[rt]} {rel:.2f}"
            if rel > axis_max:
                # A cut bar: a white zig-zag near its end says it goes on.
                zx = left + w - 12
                out_rows.append(
                    f'<path d="M{zx:.1f},{y - 1} l4,{(bar_h) / 2:.1f} l-4,{(bar_h) / 2:.1f} '
                    f'h4 l4,-{(bar_h) / 2:.1f} l-4,-{(bar_h) / 2:.1f} z" fill="white"/>'
                )
                label = f"{LABELS[rt]} {rel:.1f}× (cut)"
            out_rows.append(f'<text x="{left + w + 4:.1f}" y="{y + 10}" {HALO}>{esc(label)}</text>')
            y += bar_h
        y += gap
        out_rows.append(
            f'<line x1="10" y1="{y - gap / 2:.1f}" x2="{width - 10}" y2="{y - gap / 2:.1f}" stroke="#eee"/>'
        )
    plot_bottom = y - gap / 2

    out = []
    # Grid and the 1.0 line, under the bars.
    step = 0.5
    t = 0.0
    while t <= axis_max + 1e-9:
        x = left + t * scale
        stroke = "#333" if abs(t - 1.0) < 1e-9 else "#ddd"
        dash = ' stroke-dasharray="5 3"' if abs(t - 1.0) < 1e-9 else ""
        out.append(f'<line x1="{x:.1f}" y1="{y0 - 6}" x2="{x:.1f}" y2="{plot_bottom:.1f}" stroke="{stroke}"{dash}/>')
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 14:.1f}" text-anchor="middle" fill="#333">{t:.1f}</text>')
        t += step
    out += out_rows
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{plot_bottom + 30:.1f}" text-anchor="middle" fill="#333">'
        "ratio to the best peer (lower is better)</text>"
    )
    y = plot_bottom + 52
    notes = []
    if run:
        notes.append(
            f"Run of {fmt_epoch(run['start_epoch'])}: {run.get('nproc', '?')} cores ({run.get('cpu_model', 'unknown CPU')}), "
            f"{run.get('workers', '?')} worker threads for every runtime."
        )
        notes.append(f"Command: {run.get('invocation', 'ci/bench.sh')}")
    if top_ratio > axis_max:
        notes.append(f"Bars longer than {axis_max:.1f} are cut; their label gives the full ratio.")
    if left_drawn:
        notes.append("Not drawn (no result, or no peer to compare with): " + ", ".join(left_drawn) + ".")
    note_lines = []
    for n in notes:
        note_lines += wrap(n, 124)
    for line in note_lines:
        out.append(f'<text x="10" y="{y:.1f}" fill="#333">{esc(line)}</text>')
        y += 15
    height = y + 4

    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height:.0f}" fill="white"/>',
        '<text x="10" y="20" font-size="14" font-weight="bold">'
        "weft, tokio, smol (and the mio floor) relative to the best of tokio and smol</text>",
        '<text x="10" y="38" fill="#333">Per row: 1.0 = the best peer; lower is better everywhere. Rates (req/s, msgs/s)'
        " are inverted</text>",
        '<text x="10" y="52" fill="#333">(best peer\'s rate ÷ the runtime\'s) so that lower is better there too.</text>',
    ]
    lx = 10
    shown = RUNTIMES + ([FLOOR] if any(r.row.floor for r in drawn) else [])
    for rt in shown:
        head.append(f'<rect x="{lx}" y="62" width="12" height="10" fill="{COLORS[rt]}"/>')
        head.append(f'<text x="{lx + 16}" y="71">{LABELS[rt]}</text>')
        lx += 16 + 8 * len(LABELS[rt]) + 18
    return "\n".join(head + out + ["</svg>"]) + "\n"


def wrap(text, width):
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


# --- document ----------------------------------------------------------------

ROW_NOTES = """\
- `spawn_many_local`: one task on a worker spawns 10 000 trivial tasks and
  awaits every join handle.
- `spawn_many_remote_idle`: the bench thread (not a worker) spawns 10 000
  trivial tasks onto idle workers and awaits them.
- `spawn_many_remote_busy`: the same while every worker runs
  self-respawning tasks (2 chains per worker).
- `ping_pong`: 1000 task pairs bounce a message 100 times over two
  `async_channel::bounded(1)` channels (same channel for all runtimes).
- `yield_many`: 200 tasks, each calling `yield_now` 1000 times.
- `chained_spawn`: each task spawns the next, 1000 deep; the last one
  signals the bench over an `async-channel`. The CPU row is the process's
  CPU time (all threads) per spawn, over every iteration criterion ran.
- `timers`: 100 000 tasks each sleep 1–50 ms (`smol::Timer` for smol),
  then all are awaited; the figure is the wall time of an iteration minus
  the 50 ms of the longest sleep. The CPU row is the process's CPU time per
  iteration (all threads, the sleeps included).
- `spawn_blocking`: 10 000 trivial closures started at once on the
  blocking pool (`smol::unblock` for smol), then all awaited.
- `memory per idle task`: RSS growth over 100 000 tasks pending forever,
  per task, each runtime in a fresh process (`benches/memory/main.rs`).
- `idle CPU`: the same process's CPU time over 2 s with those tasks parked
  and nothing to do (resolution 10 ms); the target is 0.
- `HTTP keep-alive`: hello-world HTTP/1.1 servers (weft's
  `examples/hello-http.rs` and its twins in `benches/servers/`), `wrk -t1`
  at 100 and 1000 connections, alternating rounds, medians
  (`ci/http-bench.sh`). On 2 cores wrk shares the CPU with the server, so
  req/s is bounded by the load generator.
- `syscalls/request`: the same servers under wrk, system calls counted by
  perf (in the kernel, at full speed) and by `strace -f -c` (which slows the
  server, so each epoll_wait returns more events and the count comes out
  lower). The target is the bare mio loop's 2.05.
- `server CPU/request`: the server process's utime + stime per request under
  `wrk -c100`; the target is 1.05 × the bare mio loop.
- `TCP echo`: 64 connections sending 64-byte messages to echo servers on
  each runtime and the mio floor (`ci/echo-bench.sh`); messages per second,
  the 99.9th percentile round trip, and server CPU per message.
"""


def scaling_text(run):
    path = os.environ.get("SCALING_MD")
    if path:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError as e:
            print(f"bench_report: cannot read SCALING_MD={path}: {e}", file=sys.stderr)
    cores = (run or {}).get("nproc") or os.cpu_count()
    return (
        "Not measured. BENCHMARKS.md asks for the spawn, ping_pong and HTTP rows at\n"
        "2, 4, 8 and 16 worker threads where a 16-core machine is available; this run\n"
        f"had {cores} cores and no multi-core machine was available to it, so the\n"
        "2/4/8/16-worker scaling rows and chart are left for a run on such a machine\n"
        "(set `SCALING_MD` to a file with those results to include them here)."
    )


def fmt_epoch(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def header(inp):
    run = inp.run
    lines = []
    if run:
        lines.append(f"- Date: {fmt_epoch(run['start_epoch'])} to {fmt_epoch(run.get('end_epoch', run['start_epoch']))}")
        lines.append(f"- Machine: {run.get('nproc', '?')} cores (`nproc`), CPU: {run.get('cpu_model', 'unknown')}")
        lines.append(f"- Worker threads (every runtime and server): {run.get('workers', '?')}")
        lines.append(f"- Command: `{run.get('invocation', 'ci/bench.sh')}`; its sections ran, in order:")
        for s in run.get("steps", []):
            status = s["status"]
            if status == 0:
                how = f"ok, {s['seconds']} s"
            elif isinstance(status, int) and status in (124, 137):
                how = f"**timed out** after {s['seconds']} s"
            elif isinstance(status, int):
                how = f"**failed** (exit {status}) after {s['seconds']} s"
            else:
                how = f"**{status}**"
            load = f"; load average {s['load_before']} before, {s['load_after']} after" if s.get("load_before") else ""
            rustc = f"; **{s['rustc_processes']} rustc running at its start**" if s.get("rustc_processes") else ""
            cmd = f" `{s['command']}`" if s.get("command") else ""
            lines.append(f"  - {s['section']}:{cmd} ({how}{load}{rustc})")
        if run.get("failed_builds"):
            lines.append(f"- **Builds that failed:** {', '.join(run['failed_builds'])}")
        lines.append(
            "  (load average is 1/5/15 min; a section adds about its own worker count —\n"
            "  more means other work shared the CPU and the figures are disturbed)"
        )
        left_out = [s for s in SECTIONS if s not in inp.sections]
        if left_out:
            lines.append(
                f"- **Subset run:** only {', '.join(inp.sections)} ran; the rows of "
                f"{', '.join(left_out)} show — (nothing is carried over from earlier runs)."
            )
    else:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cpu_model = "unknown"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu_model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        lines.append(f"- Report written: {now}, with no record of the run (`{RUN_JSON}` missing);")
        lines.append("  every result found is shown, whatever its age")
        lines.append(f"- Machine writing the report: {os.cpu_count()} cores, CPU: {cpu_model}")
    lines.append("- Report: `python3 ci/bench_report.py` (reruns on the same results)")
    for label, data in (("HTTP", inp.http), ("echo", inp.echo)):
        if data:
            facts = ", ".join(
                f"{k} {data[k]}" for k in ("rounds", "duration_s", "workers", "connections", "size") if k in data and not isinstance(data[k], dict)
            )
            lines.append(f"- {label} summary: {data.get('date', 'no date')}; {facts}")
    return "\n".join(lines)


def server_details(inp):
    """Figures from the server summaries that have no row of their own."""
    lines = []
    everyone = RUNTIMES + [FLOOR]

    def per_runtime(get, unit=""):
        cells = [f"{rt} {fmt(get(rt))}{unit}" for rt in everyone if get(rt) is not None]
        return ", ".join(cells)

    for conns in ("100", "1000"):
        cells = per_runtime(lambda rt: dig(inp.http, "connections", conns, rt, "p99_ms"), " ms")
        if cells:
            lines.append(f"- HTTP p99 latency at {conns} connections: {cells}")
    cells = per_runtime(lambda rt: dig(inp.http, "syscalls", rt, "epoll_wait_perf"))
    if cells:
        lines.append(f"- HTTP epoll_wait calls per request (perf): {cells}")
    for key, name in (("p50_us", "p50"), ("p99_us", "p99")):
        cells = per_runtime(lambda rt: dig(inp.echo, "servers", rt, key), " µs")
        if cells:
            lines.append(f"- TCP echo {name} round trip: {cells}")
    return "\n".join(lines)


def document(inp, results):
    details = server_details(inp)
    details_part = f"\nServer figures without a row of their own:\n\n{details}\n" if details else ""
    cpu = cpu_table(inp)
    cpu_part = ""
    if cpu:
        cpu_part = (
            "\nProcess CPU per element for every scheduler row (all threads, over every\n"
            "iteration criterion ran, warm-up included; from `cpu.json` next to criterion's\n"
            "results). These are means, where the timing cells are medians: a row with\n"
            "a slow tail (a starved injector, say) shows it here first. \"Cores busy\" is\n"
            "weft's CPU time over the wall time of those iterations: near the worker\n"
            "count means the workers spun or worked throughout.\n\n" + cpu + "\n"
        )
    return f"""# weft benchmarks — results

Generated by `ci/bench.sh` (report: `ci/bench_report.py`); do not edit by
hand. Method and targets: `shared/BENCHMARKS.md`. Sources:
`benches/benches/scheduler.rs`, `benches/memory/main.rs`,
`ci/http-bench.sh`, `ci/echo-bench.sh`.

{header(inp)}

Cells are medians from this run; — means no result (the section was not
run, failed, or the row was filtered out). "weft / best peer" divides weft's
figure by the better of tokio and smol (for req/s and msgs/s, higher is
better and the ratio must be ≥ 1.00; everywhere else lower is better). The
floor is a bare single-threaded mio loop speaking the same protocol: what
the I/O rows would cost with no runtime at all. ✓ / ✗ mark whether weft
meets the row's target, next to the figure the target is about. Absolute
figures drift between runs on shared machines; the ratios within one run
are what count.

{table(results)}

![bar chart of the ratios](results.svg)
{details_part}{cpu_part}
Rows:

{ROW_NOTES}
## Scaling

{scaling_text(inp.run)}
"""


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    inp = Inputs()
    results = [Result(row, inp) for row in ROWS]
    print(table(results))
    with open(OUT_MD, "w") as f:
        f.write(document(inp, results))
    with open(OUT_SVG, "w") as f:
        f.write(svg_chart(results, inp.run))
    print(f"wrote {OUT_MD} and {OUT_SVG}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
