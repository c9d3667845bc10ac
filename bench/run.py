"""`make bench`: every figure measured beside its baseline in the same run (not in CI).

Prints a table per section with the targets' verdicts and writes bench/results.json.
    bench/run.py --tool PATH/bench_curate [--mb 1000] [--work DIR]
"""

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import curate


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", required=True, help="the release bench_curate binary")
    parser.add_argument("--mb", type=int, default=1000, help="document size in MB (10^6 bytes), default 1000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the median counts (default 3)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/sp-ingest/bench",
                        help="where the generated documents are kept between runs")
    args = parser.parse_args()

    print(f"curate: raw report -> Parquet, {args.mb} MB documents", flush=True)
    results = curate.bench(args.tool, args.mb, args.work, args.repeat)
    verdicts = curate.verdicts(results)
    failed = 0
    for v in verdicts:
        mark = "PASS" if v["pass"] else "FAIL"
        failed += not v["pass"]
        print(f"  {mark} {v['target']}: throughput {v['throughput_ratio']:.2f}x, peak RSS {v['memory_ratio']:.3f}x")

    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "curate": {"document_mb": args.mb, "results": results, "targets": verdicts},
    }
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
