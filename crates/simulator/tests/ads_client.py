"""Amazon Ads reporting through python-amazon-ad-api (a client from PyPI), against the
simulator: the profiles, a Sponsored Products campaigns report created, polled until
COMPLETED and its file downloaded. Prints what it got as JSON for
crates/simulator/tests/simulator.rs to compare with the simulator's digest.

Arguments: base URL, LWA client id, client secret, Ads refresh token, profile id,
createReport body (JSON).
"""
import gzip, hashlib, json, sys, time

from ad_api.api import Profiles, Reports
from ad_api.auth import access_token_client
from ad_api.base import Marketplaces

base, client_id, client_secret, refresh_token, profile_id, body = sys.argv[1:7]
# The library only knows Amazon's hosts; point it at the simulator.
access_token_client.AccessTokenClient.scheme = "http://"
access_token_client.AccessTokenClient.host = base[len("http://"):]
credentials = dict(
    refresh_token=refresh_token,
    client_id=client_id,
    client_secret=client_secret,
    profile_id=profile_id,
)

def at_simulator(client):
    client.endpoint = base
    return client

profiles = at_simulator(Profiles(credentials=credentials, marketplace=Marketplaces.NA)).list_profiles().payload
reports = at_simulator(Reports(credentials=credentials, marketplace=Marketplaces.NA))
created = reports.post_report(body=body).payload
report_id = created["reportId"]
for _ in range(400):
    report = reports.get_report(reportId=report_id).payload
    if report["status"] in ("COMPLETED", "FAILED"):
        break
    time.sleep(0.05)
raw = reports.download_report(url=report["url"], format="raw").payload
content = gzip.decompress(raw)
print(json.dumps({
    "profiles": [p["profileId"] for p in profiles],
    "reportId": report_id,
    "status": report["status"],
    "sha256": hashlib.sha256(content).hexdigest(),
    "rows": len(json.loads(content)),
}))
