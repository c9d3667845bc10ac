"""The Python Lambda of the cold-start figure: what a seller's function does before its
first event (bench/coldstart.py), its clients built once at import as AWS advises."""

import boto3

s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")
kms = boto3.client("kms")


def handler(event, context):
    return {"ok": True}
