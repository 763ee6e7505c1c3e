"""The generated parts of docs/benchmarks.md: Markdown tables (and the one-line facts of the run they
come from) built from the JSON results of `benchmarks.producer`, `benchmarks.streams` and
`benchmarks.report`. Each function returns the body of one `<!-- bench:NAME:start/end -->` block;
the prose around the blocks is written by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def n0(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def machine_line(info: dict[str, str]) -> str:
    return (
        f"{info['nproc']} CPU(s) ({info['cpu']}), {info['ram']} RAM, Python {info['python']}, "
        f"faust-streaming {info['faust-streaming']}, aiokafka {info['aiokafka']}, "
        f"kafka-python {info['kafka-python']}"
    )


class Figures:
    """Look-ups in a streams result's figures by name or name prefix (None when a phase did not run)."""

    def __init__(self, streams: dict[str, Any]) -> None:
        self.all: list[dict[str, Any]] = streams.get("figures", [])

    def of(self, phase: str) -> list[dict[str, Any]]:
        return [f for f in self.all if f.get("phase") == phase]

    def get(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.all if f["name"] == name), None)

    def cpu(self, name: str) -> float | None:
        found = self.get(name)
        return None if not found or found.get("cpu_us") is None else float(found["cpu_us"])


THROUGHPUT_PHASES = ("pure", "ceiling", "naive", "pipeline")
BLOCKS = (
    "producer", "streams", "streams-cpu", "memory", "overdue", "latency",
    "profile-pure", "profile-naive", "profile-worker", "cprofile",
)  # fmt: skip
"""Every `<!-- bench:NAME:start/end -->` block of docs/benchmarks.md that the report refreshes."""


def producer_block(result: dict[str, Any]) -> str:
    info, load = result["machine"], result["load"]
    rows = [
        f"| {r['name']} | {r['rate']:,.0f} | {r['vs_baseline']:.2f}× | {r['note']} |"
        for r in result["results"]
    ]
    return "\n".join(
        [
            f"Measured {result['date']} on {info['nproc']} CPU(s) ({info['cpu']}), Python {info['python']}, "
            f"kafka-python {info['kafka-python']}, pydantic {info['pydantic']}; "
            f"{result['partitions']} partitions; "
            f"{result['events']:,} events (mean value {result['mean_size']:.0f} bytes), settings "
            f"{result['settings']}; "
            f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after; each Kafka phase ran "
            f"{result['repeat']} times, the best run is shown.",
            "",
            f"Command: `{result['command']}`",
            "",
            "| phase | events/s | vs baseline | note |",
            "|---|---:|---:|---|",
            *rows,
        ]
    )


def streams_block(streams: dict[str, Any], command: str) -> str:
    f, ratios = Figures(streams), streams["ratios"]
    rows = [
        f"| {x['name']} | {n0(x['value'])} | {n0(x['cpu_us'])} | {n0(x.get('broker_us'))} | "
        f"{x['load']} | {x['note']} |"
        for x in f.all
        if x.get("phase") in THROUGHPUT_PHASES
    ]
    return "\n".join(
        [
            f"Measured {streams.get('date', '?')} on {machine_line(streams['machine'])}; "
            f"{streams['events']:,} "
            f"events (mean value {streams.get('mean_size', 0):.0f} bytes), {streams['partitions']} "
            "partitions.",
            "",
            f"- `uptime` at the start of the stream run: `{streams['uptime_start']}`",
            f"- `uptime` at its end: `{streams['uptime_end']}`",
            f"- Command: `{command}`",
            "",
            "| phase | events/s | CPU µs/event | broker µs/event | load 1/5/15 | note |",
            "|---|---:|---:|---:|---|---|",
            *rows,
            "",
            f"Ratios (same run): pipeline / naive agent **{ratios.get('pipeline / naive', 0):.2f}×**, "
            f"pipeline / ceiling **{ratios.get('pipeline / ceiling', 0):.3f}×**, pipeline / pure "
            f"`Processor.handle` **{ratios.get('pipeline / pure Processor.handle', 0):.2f}×**.",
            *(f"\n- FAILED in this run, so missing above: {error}" for error in streams.get("errors", [])),
        ]
    )


def cpu_block(streams: dict[str, Any]) -> str:
    """The worker's CPU per event split into parts, from differences of measured rows."""
    f = Figures(streams)
    ceiling, bare = f.cpu("ceiling: raw aiokafka + json.loads"), f.cpu("naive faust agent, no table update")
    naive, pure, pipe = (
        f.cpu("naive faust agent"),
        f.cpu("pure: Processor.handle"),
        f.cpu("pipeline: ioc worker"),
    )
    if ceiling is None or bare is None or naive is None or pure is None or pipe is None:
        return "(not measured: needs the ceiling, naive, naive without table, pure and pipeline rows)"
    parts = [
        ("Kafka fetch + `json.loads` (raw aiokafka)", ceiling, "ceiling"),
        ("Faust stream, per event (Event, buffers, tasks)", bare - ceiling, "naive without table − ceiling"),
        ("Faust table write: one changelog send per event", naive - bare, "naive − naive without table"),
        ("domain: `Processor.handle`", pure, "pure, in-process"),
    ]
    rest = pipe - sum(value for _, value, _ in parts)
    parts.append(
        ("the rest: emit (points, metrics), manual acks, InfluxDB sink thread", rest, "worker − the above")
    )
    parts.append(("**`ioc worker`, total**", pipe, "pipeline"))
    return "\n".join(
        [
            "| part | CPU µs/event | measured as |",
            "|---|---:|---|",
            *(f"| {a} | {b:.0f} | {c} |" for a, b, c in parts),
        ]
    )


def memory_block(streams: dict[str, Any]) -> str:
    rows = []
    for figure in Figures(streams).of("memory"):
        m = figure["details"]
        traced = "—" if m["traced_per_dossier"] is None else f"{m['traced_per_dossier']:.0f}"
        per_fired = m["tick_seconds_median"] / max(1, m["tick_fired_median"]) * 1e6
        rows.append(
            f"| {m['open']:,} | {m['rss_per_dossier']:.0f} | {traced} | "
            f"{m['state_bytes_mean']:.0f} (p90 {m['state_bytes_p90']:.0f}) | {m['rebuild_seconds']:.1f} | "
            f"{m['tick_seconds_median'] * 1000:.2f} | {m['tick_fired_median']:.0f} | "
            f"{per_fired:.0f} | {m['load']} |"
        )
    return "\n".join(
        [
            "Same run and command as the stream pipeline section.",
            "",
            "| open dossiers | RSS B/dossier | traced B/dossier | state bytes | rebuild (full "
            "scan) s | tick ms "
            "| fired | µs per fired | load 1/5/15 |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
        ]
    )


def overdue_block(streams: dict[str, Any]) -> str:
    found = Figures(streams).of("overdue")
    if not found:
        return "(not measured in this run)"
    e = found[0]["details"]
    return "\n".join(
        [
            "| open dossiers | tick period s | alerts seen | median delay s | max delay s | load 1/5/15 |",
            "|---:|---:|---:|---:|---:|---|",
            f"| {e['open']:,} | {e['tick_seconds']} | {e['seen']} of {e['samples']} | {e['median']:.2f} | "
            f"{e['max']:.2f} | {e['load']} |",
        ]
    )


def _seconds(value: float | None) -> str:
    return "not seen" if value is None else f"{value:.1f} s"


def latency_block(extra: dict[str, Any]) -> str:
    lat, rec, rep = extra.get("latency"), extra.get("recovery"), extra.get("replay")
    rows = []
    if lat:
        rows += [
            f"| end-to-end latency p50, produce → InfluxDB | {lat['p50']:.2f} s | {lat['load']} | "
            f"{lat['rate']} "
            f"events/s for {lat['seconds']} s ({lat['events']:,} events, {lat['missing']} not seen) |",
            f"| end-to-end latency p90 | {lat['p90']:.2f} s | | |",
            f"| end-to-end latency p99 | {lat['p99']:.2f} s | | max {lat['max']:.2f} s |",
        ]
    if rec:
        rows += [
            f"| recovery: SIGTERM of the worker | {rec['stop_seconds']:.1f} s | {rec['load']} | "
            f"{rec['dossiers']:,} dossiers from {rec['events']:,} events in its table |",
            f"| recovery: new worker to its ready line | {rec['ready_seconds']:.1f} s | | table "
            "restored from "
            "the changelog, views rebuilt |",
            "| recovery: new worker to its first KPI snapshot | "
            f"{_seconds(rec['snapshot_seconds'])} | | snapshot "
            f"period 1 s; received before {rec['received_before']:,}, after "
            f"{rec['received_after']:,}; the first "
            f"worker consumed {n0(rec['consume_rate'])} events/s |",
        ]
    if rep:
        rows.append(
            f"| replay of {rep['events']:,} events | {rep['seconds']:.1f} s | {rep['load']} | "
            f"{n0(rep['rate'])} "
            f"events/s, {rep['bytes'] / 1e6:.0f} MB file, {n0(rep['valid'])} valid"
            + (f", peak memory {rep['peak_rss_bytes'] / 2**30:.2f} GiB" if "peak_rss_bytes" in rep else "")
            + f", `{rep['command']}` |"
        )
    return "\n".join(
        [
            f"Measured by `{extra['command']}` on {machine_line(extra['machine'])}, with its own local Kafka "
            f"broker and InfluxDB. `uptime` before: `{extra['uptime_start']}`; after: "
            f"`{extra['uptime_end']}`.",
            "",
            "| figure | value | load 1/5/15 | how |",
            "|---|---:|---|---|",
            *rows,
            *(f"\n- FAILED in this run, so missing above: {error}" for error in extra.get("errors", [])),
        ]
    )


SCAFFOLDING = (
    "<module>",
    "main (",
    "_run_module",
    "_run_code",
    "run_forever",
    "run_until_complete",
    "._run_once",
    "Handle._run",
    "execute_from_commandline",
    "Context.invoke",
    "Command.",
    "TyperGroup.",
    "Typer.",
    "get_callback",
    "run_worker (",
    "worker (ioc/commands/worker",
    "naive_child (",
    "pure_child (",
    "._execute_task",
    "._execute_actor",
    "Thread._bootstrap",
)
"""Frames every sample passes through (entry points, the event loop): not informative in a profile."""


def _profile_summary(name: str, found: dict[str, Any]) -> str:
    groups = ", ".join(f"{g} {s:.0%}" for g, s in found["by_group"] if s >= 0.01)
    line = f"{found['samples']:,} samples. Self time by library: {groups}."

    def share(prefix: str) -> float | None:
        return next((v for k, v in found["top_inclusive"] if k.startswith(prefix)), None)

    thread, body, handle = (
        share("Thread.run ("),
        share("create_app.<locals>.process"),
        share("Processor.handle"),
    )
    if thread is not None and name == "worker":
        line += f" Threads other than the event loop's (the InfluxDB sink's writer): {thread:.0%}."
    if body is not None and handle is not None:
        line += (
            f" The agent's own loop (`process` in streams/app.py) is {body:.0%} of the samples, "
            f"`Processor.handle` {handle:.0%}."
        )
    return line


def profile_block(streams: dict[str, Any], name: str) -> str:
    """One py-spy profile (`pure`, `naive`, `worker`): its summary and top functions."""
    figure = Figures(streams).get(f"py-spy: {name}")
    if figure is None:
        return "No profile in this run (py-spy unavailable or failed)."
    found = figure["details"]
    inclusive = [kv for kv in found["top_inclusive"] if not any(t in kv[0] for t in SCAFFOLDING)][:14]
    own = found["top_self"][:14]
    lines = [
        _profile_summary(name, found),
        "",
        "| top inclusive functions | share | | top self functions | share |",
        "|---|---:|---|---|---:|",
    ]
    for i in range(max(len(inclusive), len(own))):
        a = inclusive[i] if i < len(inclusive) else ("", 0.0)
        b = own[i] if i < len(own) else ("", 0.0)
        left = f"`{a[0]}` | {a[1]:.0%}" if a[0] else " | "
        right = f"`{b[0]}` | {b[1]:.0%}" if b[0] else " | "
        lines.append(f"| {left} | | {right} |")
    return "\n".join(lines)


def cprofile_block(streams: dict[str, Any]) -> str:
    figure = Figures(streams).get("pure: Processor.handle")
    rows = (figure or {}).get("details", {}).get("cprofile") or []
    if not rows:
        return "No cProfile in this run."
    return "\n".join(
        [
            "| function | calls | self share | cumulative share |",
            "|---|---:|---:|---:|",
            *(
                f"| `{r['function']}` | {r['calls']:,} | {r['self']:.0%} | {r['cumulative']:.0%} |"
                for r in rows
            ),
        ]
    )


def stream_blocks(streams: dict[str, Any], command: str) -> dict[str, str]:
    """Every block made of a `benchmarks.streams` result, by marker name."""
    blocks: dict[str, Callable[[], str]] = {
        "streams": lambda: streams_block(streams, command),
        "streams-cpu": lambda: cpu_block(streams),
        "memory": lambda: memory_block(streams),
        "overdue": lambda: overdue_block(streams),
        "profile-pure": lambda: profile_block(streams, "pure"),
        "profile-naive": lambda: profile_block(streams, "naive"),
        "profile-worker": lambda: profile_block(streams, "worker"),
        "cprofile": lambda: cprofile_block(streams),
    }
    return {name: make() for name, make in blocks.items()}
