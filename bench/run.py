"""`make bench`: every figure measured beside its baseline in the same run (not in CI).

Prints a table per section with the targets' verdicts, writes bench/results.json (the
sections run replace theirs, the others are kept) and the plots in bench/plots/.
    bench/run.py --release TARGET/release --moto PATH [--sections curate,storage,coldstart]
"""

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import coldstart
import curate
import endtoend
import plots
import storage

SECTIONS = ("curate", "storage", "coldstart", "endtoend")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", type=Path, required=True,
                        help="cargo's release folder: the functions, the simulator and the bench examples")
    parser.add_argument("--moto", required=True, help="moto_server, the local S3")
    parser.add_argument("--latency", type=Path, required=True,
                        help="the bench_latency example (a test-profile build: it runs the local pipeline)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="default: all of " + ", ".join(SECTIONS))
    parser.add_argument("--mb", type=int, default=1000, help="curate: document size in MB (10^6 bytes)")
    parser.add_argument("--storage-mb", default="100,3000", help="storage: the small and the large document in MB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the median counts (default 3)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/sp-ingest/bench",
                        help="where the generated documents are kept between runs")
    args = parser.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        sys.exit(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    out = Path(__file__).with_name("results.json")
    report = json.loads(out.read_text()) if out.exists() else {}

    def save():
        """Keeps each section's figures as soon as it ends, should a later one fail."""
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    report["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    examples = args.release / "examples"

    if "curate" in sections:
        print(f"curate: raw report -> Parquet, {args.mb} MB documents", flush=True)
        results = curate.bench(examples / "bench_curate", args.mb, args.work, args.repeat)
        report["curate"] = {"document_mb": args.mb, "results": results, "targets": curate.verdicts(results)}
        save()
    if "storage" in sections:
        sizes = tuple(int(s) for s in args.storage_mb.split(","))
        print(f"storage: report document -> S3, {sizes[0]} MB and {sizes[1]} MB documents", flush=True)
        results = storage.bench(examples / "bench_storage", args.release / "simulator", args.moto,
                                args.work, sizes, args.repeat)
        report["storage"] = {"document_mb": list(sizes), "results": results,
                             "targets": storage.verdicts(results, sizes)}
        save()
    if "coldstart" in sections:
        print("cold start: process start -> ready for the first event", flush=True)
        results = coldstart.bench(args.release, sys.executable)
        report["coldstart"] = {"results": results, "targets": coldstart.verdicts(results)}
        save()
    if "endtoend" in sections:
        print("end to end: schedule -> object landed, 20 reports, notification vs polling (local pipeline)",
              flush=True)
        measured = endtoend.bench(args.latency)
        report["endtoend"] = {"results": measured, "targets": endtoend.verdicts(measured)}
        # Store's seconds come from the storage section's measured rate, never a guess.
        ours = next((r for r in report.get("storage", {}).get("results", []) if r["tool"] == storage.OURS_S3), None)
        if ours:
            print("cost per 1,000 reports, from those runs", flush=True)
            report["endtoend"]["cost"] = endtoend.cost(measured, ours["mb_per_s"])
        else:
            print("cost per 1,000 reports: needs the storage section's figures (SECTIONS=storage,endtoend)",
                  flush=True)

    failed = 0
    print("\ntargets")
    for section in SECTIONS:
        for verdict in report.get(section, {}).get("targets", []):
            mark = "PASS" if verdict["pass"] else "FAIL"
            failed += not verdict["pass"]
            figures = ", ".join(f"{k} {v}" for k, v in verdict.items() if k not in ("target", "pass"))
            print(f"  {mark} [{section}] {verdict['target']}: {figures}")
    save()
    print(f"wrote {out}")
    for path in plots.draw(report, Path(__file__).with_name("plots")):
        print(f"wrote {path}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
