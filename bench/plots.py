"""The README's plots, drawn from bench/results.json by `make bench` (SVG, matplotlib)."""

from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

# Same input, same file: no date and fixed element ids in the SVG.
matplotlib.rcParams["svg.hashsalt"] = "sp-ingest"
OURS = "#1f6feb"


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
    return path


def storage_memory(storage, folder):
    """Peak RSS against document size, per tool (UTF-8 documents)."""
    rows = [r for r in storage["results"] if r["charset"] == "UTF-8"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for tool in dict.fromkeys(r["tool"] for r in rows):
        points = sorted((r["document_mb"], r["peak_rss_mib"]) for r in rows if r["tool"] == tool)
        style = {}
        if tool.startswith("sp-ingest"):
            # Into S3 solid, into the null sink dashed: the same code, told apart.
            style = {"color": OURS, "linewidth": 2.5, "linestyle": "-" if "S3" in tool else ":"}
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=tool, **style)
    ax.axhline(32, color="grey", linestyle="--", linewidth=1, label="target: 32 MiB")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("document size (MB of UTF-8)")
    ax.set_ylabel("peak RSS (MiB, log)")
    ax.set_title("Report document → S3: peak memory")
    ax.legend(fontsize=7)
    return _save(fig, folder / "storage-memory.svg")


def storage_throughput(storage, folder):
    """MB/s per tool, one group per document (S3 leg included where the tool uploads)."""
    rows = storage["results"]
    documents = list(dict.fromkeys(r["document"] for r in rows))
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(tools)
    for i, tool in enumerate(tools):
        values = [next((r["mb_per_s"] for r in rows if r["document"] == d and r["tool"] == tool), 0)
                  for d in documents]
        style = {"color": OURS} if tool == tools[0] else {}
        ax.bar([j + i * width for j in range(len(documents))], values, width, label=tool, **style)
    ax.set_xticks([j + width * (len(tools) - 1) / 2 for j in range(len(documents))])
    ax.set_xticklabels(documents, fontsize=7)
    ax.set_ylabel("MB/s of UTF-8 (download → S3)")
    ax.set_title("Report document → S3: throughput")
    ax.legend(fontsize=7)
    return _save(fig, folder / "storage-throughput.svg")


def coldstart(section, folder):
    """Median cold start per function, beside the Python Lambda."""
    rows = section["results"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = [r["function"] for r in rows]
    colors = [OURS if r["binary_mb"] is not None else "grey" for r in rows]
    ax.barh(names, [r["median_ms"] for r in rows], color=colors)
    ax.axvline(30, color="grey", linestyle="--", linewidth=1, label="target: 30 ms")
    ax.invert_yaxis()
    ax.set_xlabel("process start → ready for the first event (ms, median of 10)")
    ax.set_title("Cold start")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    return _save(fig, folder / "coldstart.svg")


def endtoend(section, folder):
    """Reports landed over time since the schedule fired, per path."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for path, figures in section["results"]["paths"].items():
        landed = figures["landed_seconds"]
        style = {"color": OURS, "linewidth": 2.5} if path == "notification" else {"color": "grey"}
        ax.step([0] + landed, range(len(landed) + 1), where="post", label=f"{path} path", **style)
    ax.set_xlabel("seconds since the schedule started the run")
    ax.set_ylabel("reports landed")
    ax.set_title(f"Schedule → landed, {len(landed)} reports (Amazon takes "
                 f"{section['results']['amazon_seconds_per_report']} s each)")
    ax.legend(fontsize=7)
    return _save(fig, folder / "endtoend.svg")


def draw(report, folder):
    """Draws a plot for each section the report has; returns the files written."""
    folder.mkdir(exist_ok=True)
    written = []
    if "storage" in report:
        written += [storage_memory(report["storage"], folder), storage_throughput(report["storage"], folder)]
    if "coldstart" in report:
        written.append(coldstart(report["coldstart"], folder))
    if "endtoend" in report:
        written.append(endtoend(report["endtoend"], folder))
    return written
