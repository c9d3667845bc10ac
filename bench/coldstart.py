"""Cold start: process start to ready for the first event, per Lambda binary (bench/run.py).

Each function's release binary is started as Lambda starts it, with the Lambda
environment (AWS_LAMBDA_RUNTIME_API pointing at a runtime API in this process, the
region, credentials and the function's settings), and timed from just before the process
is spawned to its first `GET /2018-06-01/runtime/invocation/next`: `main` has built its
clients and entered the runtime loop. The median of 10 starts counts. Beside them, in
the same run, a Python Lambda under Amazon's runtime interface client (awslambdaric)
whose handler module builds three boto3 clients at import, as AWS's guides advise.
"""

import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FUNCTIONS = ["auth", "report-creator", "storage", "update-metadata", "data-processor",
             "notification-processor", "transform"]
PYTHON = f"Python {sys.version_info.major}.{sys.version_info.minor} + awslambdaric + 3 boto3 clients"
TARGET_MS = 30
STARTS = 10


class RuntimeApi:
    """The Lambda runtime API's `next` call, enough to see a function become ready."""

    def __init__(self):
        self.ready = queue.Queue()
        ready = self.ready

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    ready.put(time.perf_counter())
                # No event: the process is killed once it has asked.
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def time_start(self, argv, env):
        """Milliseconds from spawn to the first `next`."""
        while not self.ready.empty():
            self.ready.get_nowait()
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ready = self.ready.get(timeout=30)
        except queue.Empty:
            proc.kill()
            sys.exit(f"{argv[0]} did not ask for an event within 30 s")
        proc.kill()
        proc.wait()
        return (ready - started) * 1000


def lambda_env(api, name):
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": f"sp-ingest-bench-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/sp-ingest-bench-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "_HANDLER": "bootstrap",
    }
    # Every function's settings (infra/template.yaml sets these; values are not read yet).
    for setting in ("STAGE", "METADATA_TABLE", "RAW_BUCKET", "KMS_KEY_ID", "CURATED_BUCKET",
                    "GLUE_DATABASE", "NEW_DATA_TOPIC", "APPLICATION_ID"):
        env[f"SP_INGEST_{setting}"] = "bench"
    return env


def bench(release_dir, python):
    api = RuntimeApi()
    results = []
    cases = [(name, [str(Path(release_dir) / name)]) for name in FUNCTIONS]
    handler_dir = Path(__file__).parent
    cases.append((PYTHON, [python, "-m", "awslambdaric", "coldstart_handler.handler"]))
    for name, argv in cases:
        env = lambda_env(api, name if name in FUNCTIONS else "python")
        if name == PYTHON:
            env["PYTHONPATH"] = str(handler_dir)
        api.time_start(argv, env)  # the first start pages the binary in; not counted
        starts = [api.time_start(argv, env) for _ in range(STARTS)]
        median = statistics.median(starts)
        size = Path(argv[0]).stat().st_size / 1e6 if name in FUNCTIONS else None
        results.append({"function": name, "median_ms": round(median, 1), "min_ms": round(min(starts), 1),
                        "max_ms": round(max(starts), 1), "starts": STARTS,
                        "binary_mb": None if size is None else round(size, 1)})
        print(f"  {name:48} median {median:6.1f} ms  (min {min(starts):.1f}, max {max(starts):.1f})", flush=True)
    api.server.shutdown()
    return results


def verdicts(results):
    ours = [r for r in results if r["function"] in FUNCTIONS]
    python = next(r for r in results if r["function"] == PYTHON)
    slowest = max(ours, key=lambda r: r["median_ms"])
    return [{
        "target": f"cold start <= {TARGET_MS} ms for every function (median of {STARTS})",
        "slowest": slowest["function"], "slowest_ms": slowest["median_ms"],
        "python_ms": python["median_ms"], "ratio_to_python": round(slowest["median_ms"] / python["median_ms"], 3),
        "pass": slowest["median_ms"] <= TARGET_MS,
    }]
