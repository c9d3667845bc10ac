"""Curate bench: raw report -> Parquet, ours beside pyarrow on the same file in the same run.

Run by `make bench` (bench/run.py). Each tool runs in its own process; its peak RSS comes
from GNU time (`%M`; the highest of its runs) and its throughput is input MB
(10^6 bytes of the raw UTF-8 document) per wall-clock second of its median run, the
process start included for every tool alike.

- TSV: the All Orders flat file. pyarrow's `csv.read_csv` -> `parquet.write_table` (the
  issue's baseline; multi-threaded, types inferred) and, for information, its streaming
  `csv.open_csv` -> `ParquetWriter`.
- JSON: the Sales and Traffic report (one JSON object with nested row arrays). pyarrow's
  JSON reader takes JSON Lines only, so it reads the same rows rewritten one per line
  (an easier input than ours) -> `write_table`; the pattern of the AWS samples,
  `json.load` -> `Table.from_pylist` -> `write_table`, reads the report itself.
All write zstd, as ours does.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
SALES_AND_TRAFFIC = "GET_SALES_AND_TRAFFIC_REPORT"
MAIN_ARRAY = "salesAndTrafficByAsin"

PYARROW_CSV = """
import sys, pyarrow.csv as csv, pyarrow.parquet as pq
table = csv.read_csv(sys.argv[1], parse_options=csv.ParseOptions(delimiter="\\t", quote_char=False))
pq.write_table(table, sys.argv[2], compression="zstd")
print(table.num_rows)
"""

PYARROW_CSV_STREAM = """
import sys, pyarrow.csv as csv, pyarrow.parquet as pq
reader = csv.open_csv(sys.argv[1], parse_options=csv.ParseOptions(delimiter="\\t", quote_char=False))
rows = 0
with pq.ParquetWriter(sys.argv[2], reader.schema, compression="zstd") as writer:
    for batch in reader:
        writer.write_batch(batch)
        rows += batch.num_rows
print(rows)
"""

PYARROW_JSON = """
import sys, pyarrow.json as pj, pyarrow.parquet as pq
table = pj.read_json(sys.argv[1])
pq.write_table(table, sys.argv[2], compression="zstd")
print(table.num_rows)
"""

PYTHON_JSON_LOAD = """
import json, sys, pyarrow as pa, pyarrow.parquet as pq
with open(sys.argv[1], encoding="utf-8") as f:
    document = json.load(f)
table = pa.Table.from_pylist(document[sys.argv[3]])
pq.write_table(table, sys.argv[2], compression="zstd")
print(table.num_rows)
"""


# GNU time forks the tool from its own small process. Python's wait4 would not do: the
# kernel counts the spawning (vforked) parent's resident set in the child's ru_maxrss
# (exec_mmap keeps the old mm's high-water mark), so every tool would show at least this
# script's ~80 MiB.
GNU_TIME = "/usr/bin/time"


def run(argv, env=None):
    """Runs argv as a child and returns (seconds, peak RSS in MiB, stdout)."""
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"{GNU_TIME} (GNU time) measures peak memory; install the `time` package")
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", peak.name, *argv], stdout=subprocess.PIPE,
                              stderr=errors, env=env)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            errors.seek(0)
            sys.exit(f"`{' '.join(argv)}` failed ({proc.returncode}):\n{errors.read().decode()}")
        # %M is in KiB.
        return seconds, int(peak.read().split()[-1]) / 1024, proc.stdout.decode()


def generate(tool, report_type, megabytes, path):
    if path.exists() and path.with_suffix(".size").exists():
        if path.with_suffix(".size").read_text() == str(megabytes):
            return
    _, _, out = run([tool, "generate", report_type, str(megabytes), str(path)])
    path.with_suffix(".size").write_text(str(megabytes))
    print(f"  generated {path.name}: {json.loads(out)}", flush=True)


def to_json_lines(document, lines):
    """Rewrites the main array's records one per line without loading the document (the
    simulator writes it on one line): records are decoded one at a time off a window."""
    decoder = json.JSONDecoder()
    marker = f'"{MAIN_ARRAY}":['
    with open(document, encoding="utf-8") as src, open(lines, "w", encoding="utf-8") as dst:
        window = ""
        while marker not in window:
            more = src.read(1 << 20)
            if not more:
                sys.exit(f"{document} has no {MAIN_ARRAY}")
            window = window[-len(marker):] + more
        window = window[window.index(marker) + len(marker):]
        while True:
            window = window.lstrip(", \n")
            if window.startswith("]"):
                return
            try:
                record, end = decoder.raw_decode(window)
            except json.JSONDecodeError:
                more = src.read(1 << 20)
                if not more:
                    raise
                window += more
                continue
            dst.write(json.dumps(record, separators=(",", ":")) + "\n")
            window = window[end:]


def bench(tool, megabytes, work, repeat):
    """Returns the rows of the results table for one document size."""
    work.mkdir(parents=True, exist_ok=True)
    tsv, doc, jsonl = work / "orders.tsv", work / "sales_and_traffic.json", work / "sales_and_traffic.jsonl"
    generate(tool, ORDERS, megabytes, tsv)
    generate(tool, SALES_AND_TRAFFIC, megabytes, doc)
    if not jsonl.exists() or jsonl.stat().st_mtime < doc.stat().st_mtime:
        to_json_lines(doc, jsonl)
    out = work / "out"
    python = sys.executable
    cases = [
        ("tsv", "sp-ingest curate", [tool, "curate", ORDERS, tsv, out / "ours-tsv"], tsv),
        ("tsv", "pyarrow read_csv + write_table", [python, "-c", PYARROW_CSV, tsv, out / "pa.parquet"], tsv),
        ("tsv", "pyarrow open_csv streaming", [python, "-c", PYARROW_CSV_STREAM, tsv, out / "pa.parquet"], tsv),
        ("json", "sp-ingest curate", [tool, "curate", SALES_AND_TRAFFIC, doc, out / "ours-json"], doc),
        ("json", "pyarrow read_json (JSON Lines) + write_table", [python, "-c", PYARROW_JSON, jsonl, out / "pa.parquet"], jsonl),
        ("json", "json.load + from_pylist + write_table", [python, "-c", PYTHON_JSON_LOAD, doc, out / "pa.parquet", MAIN_ARRAY], doc),
    ]
    results = []
    for fmt, name, argv, source in cases:
        # The median of `repeat` runs: these machines are noisy.
        runs = []
        for _ in range(repeat):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            runs.append(run([str(a) for a in argv]))
        runs.sort(key=lambda r: r[0])
        seconds, _, stdout = runs[len(runs) // 2]
        rss = max(r[1] for r in runs)
        size = source.stat().st_size / 1e6
        rows = json.loads(stdout)["rows"] if name.startswith("sp-ingest") else int(stdout)
        results.append({
            "format": fmt, "tool": name, "input_mb": round(size, 1), "runs": repeat,
            "median_seconds": round(seconds, 2), "mb_per_s": round(size / seconds, 1),
            "peak_rss_mib": round(rss, 1), "rows": rows,
        })
        print(f"  {fmt:4} {name:46} {size / seconds:7.1f} MB/s {rss:8.1f} MiB  rows {rows}", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    return results


def verdicts(results):
    """The issue's target per format: >= 1.0x pyarrow's throughput at <= 1/4 of its peak memory."""
    lines = []
    for fmt, baseline in (("tsv", "pyarrow read_csv + write_table"), ("json", "pyarrow read_json (JSON Lines) + write_table")):
        ours = next(r for r in results if r["format"] == fmt and r["tool"] == "sp-ingest curate")
        theirs = next(r for r in results if r["format"] == fmt and r["tool"] == baseline)
        speed = ours["mb_per_s"] / theirs["mb_per_s"]
        memory = ours["peak_rss_mib"] / theirs["peak_rss_mib"]
        lines.append({
            "target": f"curate {fmt}: >= 1.0x {baseline} throughput at <= 0.25x its peak RSS",
            "throughput_ratio": round(speed, 2), "memory_ratio": round(memory, 3),
            "pass": speed >= 1.0 and memory <= 0.25,
        })
    return lines
