"""`make bench`: every benchmark, one table, the goals checked; optionally recorded in the docs.

Knobs (environment): ``BENCH_N`` sweep sizes (default ``1000,10000``), ``BENCH_ROTATIONS``
(default 200), ``BENCH_FANOUT`` due secrets for the queue mode (default 1000), ``BENCH_ONLY``
(comma list of sweep,rotation,fanout,deployed,coldstart), ``BENCH_DOC=1`` to rewrite the
generated part of docs/benchmarks.md. Results are also kept as JSON in ``.bench/results.json``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from bench import cold_start, common, deployed_queue, fan_out, rotation_throughput, sweep_cost
from bench.capacity import SWEEP_RESERVE_SECONDS, SWEEP_TIMEOUT_SECONDS, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
MIB = 1024 * 1024  # sizes are reported in MiB


def _ok(flag: bool) -> str:
    return "yes" if flag else "**NO**"


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in calls.items())


def _render_coldstart(c: dict[str, Any]) -> list[str]:
    b = c.get("before")
    with_source = any(t["source_median_ms"] for t in c["handlers"].values())
    out = [
        f"### Cold start (import of each handler vs `import boto3`, median of {c['rounds']} "
        "paired rounds, fresh processes, PYTHONDONTWRITEBYTECODE=1)",
        "",
        f"Build measured: `{c['build']}` (`import boto3`: {c['boto3_ms']:.0f} ms, "
        f"{c['boto3_cpu_ms']:.0f} ms CPU)"
        + (
            f"; before: {b['label']}, `{b['build']}`, measured right after (`import boto3`: "
            f"{b['boto3_ms']:.0f} ms, {b['boto3_cpu_ms']:.0f} ms CPU)."
            if b
            else "."
        ),
        "",
        "| handler | "
        + ("before | ratio | " if b else "")
        + "import | ratio | CPU ratio | "
        + ("same files without .pyc | ratio | " if with_source else "")
        + "compiled from source | heaviest direct imports |",
        "|---|"
        + ("---:|---:|" if b else "")
        + "---:|---:|---:|"
        + ("---:|---:|" if with_source else "")
        + "---:|---|",
    ]
    for name, t in c["handlers"].items():
        top = ", ".join(f"{mod} {ms:.0f} ms" for mod, ms in t["dominant"]["direct"][:3])
        old = b["handlers"].get(name) if b else None
        before = f"{old['median_ms']:.0f} ms | {old['ratio']:.2f} | " if old else ""
        if b and not old:
            before = "| | "
        source = (
            f"{t['source_median_ms']:.0f} ms | {t['source_ratio']:.2f} | " if with_source else ""
        )
        out.append(
            f"| {name} | {before}{t['median_ms']:.0f} ms | {t['ratio']:.2f} | "
            f"{t['cpu_ratio']:.2f} | {source}{t['compiled_from_source']} | {top} |"
        )
    out.append("")
    for label, m in ([("before", b)] if b else []) + [("built", c)]:
        sizes = ", ".join(f"{k} {v / MIB:.2f} MiB" for k, v in m["sizes"].items())
        out.append(
            f"Artifacts {label}, unzipped: {m['total_bytes'] / MIB:.2f} MiB ({sizes}); boto3 in "
            f"the layer: {m['boto_in_layer'] or 'no'}; X-Ray SDK in the layer: "
            f"{'yes' if m.get('xray_in_layer') else 'no'}."
        )
        if m.get("zipped"):
            zipped = ", ".join(f"{k} {v / MIB:.2f} MiB" for k, v in m["zipped"].items())
            out.append(f"Artifacts {label}, zipped as uploaded: {zipped}.")
    out.append("")
    worst = max(max(t["ratio"], t["cpu_ratio"]) for t in c["handlers"].values())
    out += [
        f"Goals: each handler <= 1.25 x `import boto3` (wall and CPU): {_ok(worst <= 1.25)} "
        f"(worst {worst:.2f}); <= 10 MiB: {_ok(c['total_bytes'] <= 10 * MIB)}.",
        "",
    ]
    return out


def _render_sweep(s: dict[str, Any]) -> list[str]:
    n, p, v, b = s["n"], s["product"], s["naive"], s.get("batch")
    pages_max = math.ceil(n / 100)
    sweeps = [p, v] + ([b] if b else [])
    out = [
        f"### Sweep, N = {n:,} ({p['due']} due)",
        "",
        "| | product (tags only) | naive: GetSecretValue each | ratio |"
        + (" batch: BatchGetSecretValue x20 | ratio |" if b else ""),
        "|---|---:|---:|---:|" + ("---:|---:|" if b else ""),
    ]
    ops = dict.fromkeys(op for sweep in sweeps[1:] + sweeps[:1] for op in sweep["calls"])
    for op in ops:
        label = f"{op} (counted, not sent)" if op == "RotateSecret" else op
        cells = [f"{sweep['calls'].get(op, 0):,}" for sweep in sweeps]
        out.append(f"| {label} | {cells[0]} | {cells[1]} | |" + (f" {cells[2]} | |" if b else ""))
    out += [
        f"| Secrets Manager calls | {p['total_calls']:,} | {v['total_calls']:,} | "
        f"{s['call_ratio']:.1f}x |"
        + (f" {b['total_calls']:,} | {s['batch_call_ratio']:.1f}x |" if b else ""),
        f"| wall time | {p['seconds']:.2f} s | {v['seconds']:.2f} s | {s['time_ratio']:.1f}x |"
        + (f" {b['seconds']:.2f} s | {s['batch_time_ratio']:.1f}x |" if b else ""),
        "",
        f"Goals: list pages <= ceil(N/100) = {pages_max}: "
        f"{_ok(p['calls'].get('ListSecrets', 0) <= pages_max)}; per due secret "
        f"{(p['total_calls'] - p['calls'].get('ListSecrets', 0)) / max(1, p['due']):.0f} calls"
        + (
            f"; >= 20x fewer calls than naive: {_ok(s['call_ratio'] >= 20)}; "
            f">= 5x less wall time than naive: {_ok(s['time_ratio'] >= 5)}"
            if n >= 10000
            else ""
        )
        + f". Seeding: {s['seeding']['created']:,} created in {s['seeding']['seconds']} s.",
        "",
    ]
    return out


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"Measured {m['date']} on {m['nproc']} CPUs, {m['memory']} RAM, Python {m['python']} "
        f"({m['platform']}), LocalStack 2026.3.0 in host mode on the same machine.",
        "",
    ]
    for s in results.get("sweep", []):
        out += _render_sweep(s)
    r = results.get("rotation")
    if r:
        seq, cal, par = r["sequential"], r["calibration"], r["parallel"]
        out += [
            f"### Rotation throughput ({r['rotations']} rotations, provider latency "
            f"{r['latency_s'] * 1000:.0f} ms per call, write budget {r['budget']:.0f}/s)",
            "",
            "| | sequential | calibration | parallel |",
            "|---|---:|---:|---:|",
            f"| rotations | {seq['rotations']} | {cal['rotations']} | {par['rotations']} |",
            f"| workers (sized from the mean rotation of the column before) | 1 | "
            f"{cal['workers']} | {par['workers']} |",
            f"| mean rotation (4 steps) | {seq['mean_rotation_s']:.2f} s | "
            f"{cal['mean_rotation_s']:.2f} s | {par['mean_rotation_s']:.2f} s |",
            f"| rotations/s | {seq['rotations_per_s']:.2f} | {cal['rotations_per_s']:.1f} | "
            f"{par['rotations_per_s']:.1f} |",
            f"| writes/s (Put + UpdateSecretVersionStage) | | {cal['writes_per_s']:.1f} | "
            f"{par['writes_per_s']:.1f} |",
            f"| Secrets Manager calls per rotation | {seq['calls_per_rotation']:.0f} | | |",
            "",
            f"Throttled attempts (retried): writes {r['throttled_attempts']['writes']}, "
            f"TagResource {r['throttled_attempts']['TagResource']}; failed rotations: "
            f"{r['failures']} {r['failure_types'] or ''}.",
            f"Goals: >= 80% of the write budget: {_ok(r['budget_share'] >= 0.8)} "
            f"({r['budget_share']:.0%}); 0 throttling failures: {_ok(r['failures'] == 0)}; "
            f">= 10x sequential: {_ok(r['speedup'] >= 10)} ({r['speedup']:.1f}x).",
            "",
        ]
    c = results.get("coldstart")
    if c:
        out += _render_coldstart(c)
    f = results.get("fanout")
    if f:
        out += [
            f"### Queue mode, in-process ({f['due']:,} due secrets)",
            "",
            "| phase | calls | time | rate |",
            "|---|---|---:|---:|",
            f"| sweep: list + enqueue | {_calls(f['enqueue_calls'])} | "
            f"{f['enqueue_seconds']:.2f} s | "
            f"{f['enqueued'] / f['enqueue_seconds']:.0f} msgs/s |",
            f"| {f['workers']} workers: receive, handler, delete | "
            f"{_calls(f['worker_sm_calls'] | {'RotateSecret (counted)': f['rotate_calls']})} | "
            f"{f['drain_seconds']:.2f} s | {f['records_per_s']:.0f} records/s |",
            "",
            f"Enqueued {f['enqueued']:,}, enqueue errors {f['enqueue_errors']}, records handled "
            f"{f['handled']:,}, failed records {f['failed_records']}.",
            "",
        ]
    d = results.get("deployed")
    if d:
        out += [
            f"Deployed check (DispatchMode=queue, stack deployed in {d['deploy_seconds']} s): the "
            f"sweep enqueued {d['sweep_enqueued']} of {d['secrets']} due secrets, the SQS event "
            f"source ran the Worker, {d['rotated']}/{d['secrets']} rotated through the deployed "
            f"rotation function in {d['seconds_to_all_rotated']} s (LocalStack runs the four "
            "steps inside RotateSecret, one local process each).",
            "",
        ]
    plan = results.get("plan")
    if plan:
        out += [
            f"### 100,000 secrets: one sweep invocation? (page time {plan['page_seconds']:.3f} s "
            f"as measured above; the SweepFunction's {SWEEP_TIMEOUT_SECONDS // 60}-minute Timeout, "
            f"{SWEEP_RESERVE_SECONDS} s reserve)",
            "",
            "| due | mode | pages | listing | starting | fits | rotations drain (write quota) |",
            "|---:|---|---:|---:|---:|---|---:|",
        ]
        for row in plan["rows"]:
            out.append(
                f"| {row['due']:,} | {row['mode']} | {row['list_pages']} | {row['list_seconds']} s"
                f" | {row['start_seconds']} s | {_ok(row['fits'])} | {row['drain_seconds']} s |"
            )
        out.append("")
    return "\n".join(out)


def _keep(results: dict[str, Any]) -> None:
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "results.json").write_text(json.dumps(results, indent=1, default=str))


def main() -> int:  # noqa: C901 - one switch per benchmark the BENCH_ONLY list may name
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    want = lambda name: not only or name in only  # noqa: E731
    saved = ROOT / ".bench" / "results.json"
    results: dict[str, Any] = {}
    if only and saved.exists():  # a partial run updates the last full one
        results = json.loads(saved.read_text())
    if only != {"render"}:
        results["machine"] = common.machine()
    endpoint = None
    if only - {"coldstart", "render"} or not only:
        endpoint = common.localstack()
    if want("sweep"):
        sizes = [int(x) for x in os.environ.get("BENCH_N", "1000,10000").split(",") if x]
        results["sweep"] = []
        for n in sizes:
            print(f"bench: sweep N={n}", file=sys.stderr, flush=True)
            results["sweep"].append(sweep_cost.run(endpoint, n))
        page = max(results["sweep"], key=lambda s: s["n"])["page_seconds"]
        rows = [
            plan_sweep(100_000, due, page_seconds=page, mode=mode).to_dict() | {"mode": mode}
            for due in (1_000, 17_000, 100_000)
            for mode in ("direct", "queue")
        ]
        results["plan"] = {"page_seconds": page, "rows": rows}
    _keep(results)  # each benchmark's results are kept as soon as it ends: a later one may fail
    if want("rotation"):
        print("bench: rotation throughput", file=sys.stderr, flush=True)
        results["rotation"] = rotation_throughput.run(
            endpoint, int(os.environ.get("BENCH_ROTATIONS", "200"))
        )
    _keep(results)
    if want("fanout"):
        print("bench: queue mode", file=sys.stderr, flush=True)
        results["fanout"] = fan_out.run(endpoint, int(os.environ.get("BENCH_FANOUT", "1000")))
    _keep(results)
    if want("deployed"):
        print("bench: queue mode deployed on LocalStack", file=sys.stderr, flush=True)
        results["deployed"] = deployed_queue.run(endpoint)
    _keep(results)
    if want("coldstart"):
        print("bench: cold start", file=sys.stderr, flush=True)
        results["coldstart"] = cold_start.run()
    _keep(results)
    table = render(results)
    print(table)
    if os.environ.get("BENCH_DOC") == "1":
        text = DOC.read_text()
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
        print(f"bench: {DOC.relative_to(ROOT)} updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
