"""End to end and cost (bench/run.py): schedule → object landed for 20 reports on the
notification path and on the polling path (crates/cli/examples/bench_latency.rs, the
local pipeline), and what 1,000 reports cost from those runs' measured usage.

Cost model, on-demand prices in us-east-1 (x86_64, free tiers ignored):
- Step Functions Standard: $0.025 per 1,000 state transitions (StateEntered events);
- Lambda: $0.20 per million requests, $0.0000166667 per GB-second;
- Glue: $0.44 per DPU-hour, a Spark job ≥ 2 DPU billed ≥ 1 minute.
Ours: the notification run's transitions and invocations per report; GB-seconds as its
invocations' measured seconds at 1 GB (an upper bound: the small functions are sized
128 MB, and these are debug builds behind the local proxy) plus Store's seconds for a
10 MB document at the storage bench's measured MB/s, also at 1 GB.
Seed 000's pattern: the same state machine steps polled instead of notified — our
polling run's transitions and invocations per report — with a Glue job per run in place
of Curate (one run per 20 reports, as here, and one per report).
"""

import json
import statistics

from curate import run

SFN_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667
GLUE_JOB_MINIMUM = 2 * (1 / 60) * 0.44
DOCUMENT_MB = 10
REPORTS = 1000


def bench(tool):
    """Runs the latency example; returns its figures with percentiles added."""
    _, _, stdout = run([str(tool)])
    measured = json.loads(stdout.strip().splitlines()[-1])
    for path, figures in measured["paths"].items():
        landed = figures["landed_seconds"]
        figures["p50_seconds"] = round(statistics.median(landed), 1) if landed else None
        figures["p90_seconds"] = round(landed[int(len(landed) * 0.9) - 1], 1) if landed else None
        figures["max_seconds"] = round(max(landed), 1) if landed else None
        print(f"  {path:12} {figures['landed']}/{figures['reports']} landed; schedule → landed p50 "
              f"{figures['p50_seconds']} s, p90 {figures['p90_seconds']} s, max {figures['max_seconds']} s; "
              f"{figures['transitions']} transitions, {figures['invocations']} invocations", flush=True)
    return measured


def verdicts(measured):
    """Both paths land everything; notifications land sooner than polling (p90), with the
    pipeline's own share beside Amazon's time (local: debug functions, 2 cores)."""
    amazon = measured["amazon_seconds_per_report"]
    notified, polled = measured["paths"]["notification"], measured["paths"]["polling"]
    both_landed = notified["landed"] == notified["reports"] and polled["landed"] == polled["reports"]
    return [{
        "target": "every report lands on both paths; the notification path's p90 below the polling path's",
        "notification_p90_s": notified["p90_seconds"], "polling_p90_s": polled["p90_seconds"],
        "amazon_s": amazon, "pipeline_share_p90_s": round(notified["p90_seconds"] - amazon, 1)
        if notified["p90_seconds"] is not None else None,
        "pass": both_landed and notified["p90_seconds"] is not None and polled["p90_seconds"] is not None
        and notified["p90_seconds"] < polled["p90_seconds"],
    }]


def cost(measured, store_mb_per_s):
    """Dollars per 1,000 reports, ours beside seed 000's pattern, from the measured runs."""
    def per_report(path, key):
        figures = measured["paths"][path]
        return figures[key] / figures["reports"]

    store_gb_s = DOCUMENT_MB / store_mb_per_s * 1.0
    ours = {
        "transitions": per_report("notification", "transitions") * REPORTS,
        "invocations": per_report("notification", "invocations") * REPORTS,
        "gb_seconds": (per_report("notification", "invocation_seconds") + store_gb_s) * REPORTS,
        "glue_job_runs": 0,
    }
    reports_per_run = measured["paths"]["polling"]["reports"]
    seed = {
        "transitions": per_report("polling", "transitions") * REPORTS,
        "invocations": per_report("polling", "invocations") * REPORTS,
        "gb_seconds": (per_report("polling", "invocation_seconds") + store_gb_s) * REPORTS,
        "glue_job_runs": REPORTS / reports_per_run,
    }
    rows = []
    for name, usage in ((f"sp-ingest (notified, Curate in Lambda)", ours),
                        (f"seed 000 pattern, Glue job per run of {reports_per_run}", seed),
                        ("seed 000 pattern, Glue job per report", dict(seed, glue_job_runs=REPORTS))):
        dollars = {
            "step_functions": usage["transitions"] * SFN_PER_TRANSITION,
            "lambda_requests": usage["invocations"] * LAMBDA_PER_REQUEST,
            "lambda_compute": usage["gb_seconds"] * LAMBDA_PER_GB_SECOND,
            "glue": usage["glue_job_runs"] * GLUE_JOB_MINIMUM,
        }
        total = sum(dollars.values())
        rows.append({"pattern": name, **{k: round(v, 1) for k, v in usage.items()},
                     "dollars": {k: round(v, 4) for k, v in dollars.items()}, "total_dollars": round(total, 3)})
        print(f"  {name:48} ${total:7.3f} per {REPORTS} reports "
              f"({usage['transitions']:.0f} transitions, {usage['invocations']:.0f} invocations, "
              f"{usage['gb_seconds']:.0f} GB-s, {usage['glue_job_runs']:.0f} Glue job runs)", flush=True)
    return {"reports": REPORTS, "document_mb": DOCUMENT_MB, "store_mb_per_s": store_mb_per_s, "rows": rows}
