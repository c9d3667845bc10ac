"""Data Kiosk through python-amazon-sp-api (a client from PyPI), against the simulator:
createQuery, getQuery until terminal, getDocument with its download. Prints what it got
as JSON for crates/simulator/tests/simulator.rs to compare with the simulator's digest.

Arguments: base URL, query text, LWA client id, client secret, refresh token.
"""
import sys, json, time, hashlib
from sp_api.api import DataKiosk
from sp_api.base import Marketplaces
from sp_api.auth import access_token_client

base, query, client_id, client_secret, refresh_token = sys.argv[1:6]
# The library only knows Amazon's hosts; point it at the simulator.
access_token_client.AccessTokenClient.scheme = "http://"
access_token_client.AccessTokenClient.host = base[len("http://"):]
kiosk = DataKiosk(
    Marketplaces.US,
    credentials=dict(refresh_token=refresh_token, lwa_app_id=client_id, lwa_client_secret=client_secret),
)
kiosk.endpoint = base
created = kiosk.create_query(query=query)
query_id = created.payload["queryId"]
for _ in range(400):
    status = kiosk.get_query(query_id).payload
    if status["processingStatus"] in ("DONE", "FATAL", "CANCELLED"):
        break
    time.sleep(0.05)
document = kiosk.get_document(status["dataDocumentId"], download=True).payload["document"]
print(json.dumps({
    "queryId": query_id,
    "status": status["processingStatus"],
    "sha256": hashlib.sha256(document).hexdigest(),
    "lines": len(document.splitlines()),
}))
