"""What sellers run today to land a report document, one run per process (bench/storage.py).

    storage_baselines.py TOOL SP_API_URL LWA_URL MARKETPLACE S3_URL OUT

TOOL is one of
- `python-amazon-sp-api`: the library's fastest path, `get_report_document(id,
  stream=True, file=OUT)` (2.1.35: httpx streaming, zlib inflate and the charset's
  incremental decoder into a text file), then boto3's `upload_file` of that file;
- `get-decompress-put`: the AWS samples' pattern, `requests.get(url)` →
  `gzip.decompress` → `put_object`, the whole document in memory.
Both ask the simulator for the report (createReport, getReport) and the document URL
(getReportDocument) through python-amazon-sp-api. Prints one JSON line: seconds of the
download + decode leg, seconds of the S3 leg, bytes written.
"""

import gzip
import json
import sys
import time

import boto3
import requests
from sp_api.api import ReportsV2
from sp_api.auth import access_token_client
from sp_api.base import Marketplaces

CLIENT_ID = "amzn1.application-oa2-client.simulator"
CLIENT_SECRET = "simulator-client-secret"
REFRESH_TOKEN = "Atzr|simulator-refresh-token"
ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
BUCKET = "sp-ingest-bench"


def main():
    tool, sp_api, lwa, marketplace, s3_url, out = sys.argv[1:7]
    # The library only knows Amazon's hosts; point it at the simulator.
    lwa_host, _, lwa_path = lwa[len("http://"):].partition("/")
    access_token_client.AccessTokenClient.scheme = "http://"
    access_token_client.AccessTokenClient.host = lwa_host
    access_token_client.AccessTokenClient.path = "/" + lwa_path
    reports = ReportsV2(
        Marketplaces.US,
        credentials=dict(refresh_token=REFRESH_TOKEN, lwa_app_id=CLIENT_ID, lwa_client_secret=CLIENT_SECRET),
    )
    reports.endpoint = sp_api
    created = reports.create_report(
        reportType=ORDERS,
        marketplaceIds=[marketplace],
        dataStartTime="2026-01-01T00:00:00Z",
        dataEndTime="2026-01-02T00:00:00Z",
    )
    report_id = created.payload["reportId"]
    while True:
        report = reports.get_report(report_id).payload
        if report["processingStatus"] in ("DONE", "FATAL", "CANCELLED"):
            break
        time.sleep(0.02)
    document_id = report["reportDocumentId"]
    s3 = boto3.client(
        "s3", endpoint_url=s3_url, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    key = f"bench/{report_id}.tsv"

    if tool == "python-amazon-sp-api":
        started = time.perf_counter()
        reports.get_report_document(document_id, stream=True, file=out)
        downloaded = time.perf_counter()
        s3.upload_file(out, BUCKET, key)
        stored = time.perf_counter()
        with open(out, "rb") as written:
            size = written.seek(0, 2)
    elif tool == "get-decompress-put":
        url = reports.get_report_document(document_id).payload["url"]
        started = time.perf_counter()
        document = gzip.decompress(requests.get(url, timeout=600).content)
        downloaded = time.perf_counter()
        s3.put_object(Bucket=BUCKET, Key=key, Body=document)
        stored = time.perf_counter()
        size = len(document)
        with open(out, "wb") as written:
            written.write(document)
    else:
        sys.exit(f"unknown tool {tool}")
    s3.delete_object(Bucket=BUCKET, Key=key)
    print(json.dumps({"seconds": downloaded - started, "s3_seconds": stored - downloaded, "bytes": size}))


if __name__ == "__main__":
    main()
