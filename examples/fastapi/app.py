"""The seed app: a FastAPI service reading DynamoDB through boto3.

    GET /items/{table}/{key}   get_item(TableName=table, Key={KEY: {"S": key}})
        200 the item as plain JSON, 404 no such item, 500 DynamoDB said
        no (ClientError), 503 DynamoDB could not be reached
        (EndpointConnectionError: under pindns, a refused or failed lookup)
    GET /async/items/{table}/{key}
                               the same read as an asyncio app makes it
                               (aiobotocore runs on aiohttp): aiohttp with
                               aiodns, whose c-ares sends DNS packets
                               itself instead of calling getaddrinfo
                               (needs python3-aiohttp, python3-aiodns)
    GET /healthz               200, touches nothing

Nothing in here knows about pindns: run it under `pindns-exec` and every
lookup boto3 makes goes through the policy.

Environment:
    DYNAMODB_ENDPOINT   endpoint URL, a *name* (default the real one,
                        https://dynamodb.us-east-1.amazonaws.com); the lab
                        uses http://dynamodb.us-east-1.amazonaws.com:PORT.
                        botocore 1.29 (Debian 12) ignores
                        AWS_ENDPOINT_URL_DYNAMODB, so it is passed here.
    DYNAMODB_KEY        name of the table's string hash key (default "id")
    DYNAMODB_CONNECT_TIMEOUT, DYNAMODB_READ_TIMEOUT  seconds (2, 5)
    DYNAMODB_MAX_ATTEMPTS   total attempts per call, retries included (1)
    DYNAMODB_RESOLVE_AT_START=1  resolve the endpoint once at import time
                        (under `gunicorn --preload` that is in the master,
                        before the workers are forked) and fail if it
                        does not resolve
    AWS_REGION / AWS_DEFAULT_REGION (us-east-1), and credentials the usual
    boto3 way (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role, ...).

Run:
    uvicorn app:app --app-dir examples/fastapi
    gunicorn -w 4 -k uvicorn.workers.UvicornWorker --chdir examples/fastapi app:app
"""

import asyncio
import json
import os
import socket
import sys
from urllib.parse import urlsplit

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from fastapi import FastAPI, HTTPException

ENDPOINT = os.environ.get("DYNAMODB_ENDPOINT",
                          "https://dynamodb.us-east-1.amazonaws.com")
REGION = os.environ.get("AWS_REGION",
                        os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
KEY = os.environ.get("DYNAMODB_KEY", "id")

# Small, explicit timeouts and no retries: a refused lookup must turn into
# a 503 at once, not after botocore's default 5 attempts with back-off.
ddb = boto3.client(
    "dynamodb",
    region_name=REGION,
    endpoint_url=ENDPOINT,
    config=Config(
        connect_timeout=float(os.environ.get("DYNAMODB_CONNECT_TIMEOUT", "2")),
        read_timeout=float(os.environ.get("DYNAMODB_READ_TIMEOUT", "5")),
        retries={"mode": "standard",
                 "total_max_attempts":
                     int(os.environ.get("DYNAMODB_MAX_ATTEMPTS", "1"))},
    ),
)
_plain = TypeDeserializer()

if os.environ.get("DYNAMODB_RESOLVE_AT_START") == "1":
    u = urlsplit(ENDPOINT)
    port = u.port or (443 if u.scheme == "https" else 80)
    addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(
        u.hostname, port, type=socket.SOCK_STREAM)})
    print("app: pid %d: %s resolves to %s" % (os.getpid(), u.hostname,
                                             " ".join(addrs)),
          file=sys.stderr, flush=True)

app = FastAPI(title="items")


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.get("/items/{table}/{key}")
def get_item(table: str, key: str):
    # A plain `def`: FastAPI runs it in its thread pool, so the blocking
    # boto3 call (and its getaddrinfo) does not stall the event loop.
    try:
        r = ddb.get_item(TableName=table, Key={KEY: {"S": key}})
    except BotoConnectionError as e:
        # EndpointConnectionError (refused or failed lookup, connection
        # refused) and ConnectTimeoutError.
        raise HTTPException(status_code=503,
                            detail="DynamoDB unreachable: %s" % e)
    except ClientError as e:
        raise HTTPException(status_code=500,
                            detail=e.response.get("Error", {}).get("Code",
                                                                   "error"))
    item = r.get("Item")
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    return {k: _plain.deserialize(v) for k, v in item.items()}


@app.get("/async/items/{table}/{key}")
async def get_item_async(table: str, key: str):
    # The request aiobotocore would send: botocore signs it, aiohttp sends
    # it, and aiohttp's AsyncResolver looks the endpoint up with aiodns
    # (c-ares), which reads resolv.conf and sends its own DNS packets.
    # IPv4 only, as the lab's poisoner also answers AAAA.
    import aiohttp
    from aiohttp.resolver import AsyncResolver
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    body = json.dumps({"TableName": table, "Key": {KEY: {"S": key}}})
    req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.GetItem"})
    creds = boto3.session.Session().get_credentials()
    SigV4Auth(creds.get_frozen_credentials(), "dynamodb",
              REGION).add_auth(req)
    conn = aiohttp.TCPConnector(resolver=AsyncResolver(),
                                family=socket.AF_INET, use_dns_cache=False)
    timeout = aiohttp.ClientTimeout(total=float(
        os.environ.get("DYNAMODB_READ_TIMEOUT", "5")))
    try:
        async with aiohttp.ClientSession(connector=conn,
                                         timeout=timeout) as s:
            async with s.post(ENDPOINT + "/", data=body,
                              headers=dict(req.headers.items())) as r:
                status = r.status
                data = await r.json(content_type=None)
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError,
            OSError) as e:
        raise HTTPException(status_code=503,
                            detail="DynamoDB unreachable: %s" % e)
    if status != 200:
        raise HTTPException(status_code=500,
                            detail=str(data.get("__type", "error")))
    item = data.get("Item")
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    return {k: _plain.deserialize(v) for k, v in item.items()}
