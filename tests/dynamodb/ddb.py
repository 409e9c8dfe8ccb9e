#!/usr/bin/python3
"""DynamoDB stand-in and attacker for the seed scenario (issue 6).

    ddb.py standin  --bind ADDR --port P [--seed FILE] [--log FILE] [--close]
    ddb.py attacker --bind ADDR --port P --log FILE [--close]

standin: an HTTP server speaking enough of the DynamoDB JSON protocol
(X-Amz-Target DynamoDB_20120810.*, application/x-amz-json-1.0) for boto3
to work against it: CreateTable, DescribeTable, ListTables, DeleteTable,
PutItem, GetItem, DeleteItem, with DynamoDB's error shapes (HTTP 400,
{"__type": "com.amazonaws.dynamodb.v20120810#...", "message": ...}) and
the x-amzn-RequestId and x-amz-crc32 headers botocore checks. Tables live
in memory. --seed FILE runs a JSON list of [Operation, body] pairs first.

attacker: what a poisoned DNS answer sends the client to. It records
every request as one JSON line in --log (method, path, client, every
header including Authorization, the body, and the access key id and
signature taken from the SigV4 Authorization header), and answers like
DynamoDB would, forging data: GetItem returns the asked key with
"forged": "by the attacker".

Both print one line "READY <role> http://ADDR:PORT pid=N" on stdout once
listening, exit 3 when the address cannot be bound (so a caller can pick
another port), and stop on SIGTERM or SIGINT. Standard library only, so
it runs with any python3; the apps it serves need /usr/bin/python3.
"""

import argparse
import errno
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "DynamoDB_20120810."
ERR_NS = "com.amazonaws.dynamodb.v20120810#"
CORAL_NS = "com.amazon.coral.service#"


class DdbError(Exception):
    """A DynamoDB error answer: HTTP status, __type and message."""

    def __init__(self, kind, message, status=400, ns=ERR_NS):
        super().__init__(message)
        self.kind = ns + kind
        self.message = message
        self.status = status


def _key_of(table, item):
    """The primary key of item in table, as a hashable value."""
    key = []
    for name in table["keys"]:
        if name not in item:
            raise DdbError("ValidationException",
                           "One of the required keys was not given a value")
        key.append(json.dumps(item[name], sort_keys=True))
    return tuple(key)


class Store:
    """In-memory tables. One lock: the stand-in is for tests, not speed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tables = {}

    def _table(self, body):
        name = body.get("TableName")
        if not isinstance(name, str) or not name:
            raise DdbError("ValidationException", "TableName is required")
        t = self.tables.get(name)
        if t is None:
            raise DdbError("ResourceNotFoundException",
                           "Requested resource not found")
        return t

    @staticmethod
    def _describe(t):
        return {
            "TableName": t["name"],
            "TableStatus": "ACTIVE",
            "KeySchema": t["schema"],
            "AttributeDefinitions": t["attrs"],
            "ItemCount": len(t["items"]),
            "CreationDateTime": t["created"],
            "TableArn": "arn:aws:dynamodb:us-east-1:000000000000:table/"
                        + t["name"],
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        }

    def CreateTable(self, body):
        name = body.get("TableName")
        schema = body.get("KeySchema")
        if not isinstance(name, str) or not isinstance(schema, list) or \
                not schema:
            raise DdbError("ValidationException",
                           "TableName and KeySchema are required")
        if name in self.tables:
            raise DdbError("ResourceInUseException",
                           "Table already exists: " + name)
        t = {"name": name, "schema": schema,
             "attrs": body.get("AttributeDefinitions", []),
             "keys": [k["AttributeName"] for k in schema],
             "items": {}, "created": time.time()}
        self.tables[name] = t
        return {"TableDescription": self._describe(t)}

    def DescribeTable(self, body):
        return {"Table": self._describe(self._table(body))}

    def ListTables(self, body):
        return {"TableNames": sorted(self.tables)}

    def DeleteTable(self, body):
        t = self._table(body)
        del self.tables[t["name"]]
        return {"TableDescription": self._describe(t)}

    def PutItem(self, body):
        t = self._table(body)
        item = body.get("Item")
        if not isinstance(item, dict):
            raise DdbError("ValidationException", "Item is required")
        t["items"][_key_of(t, item)] = item
        return {}

    def GetItem(self, body):
        t = self._table(body)
        item = t["items"].get(_key_of(t, body.get("Key") or {}))
        return {"Item": item} if item is not None else {}

    def DeleteItem(self, body):
        t = self._table(body)
        t["items"].pop(_key_of(t, body.get("Key") or {}), None)
        return {}

    def run(self, op, body):
        fn = getattr(self, op, None) if op[:1].isupper() else None
        if fn is None:
            raise DdbError("UnknownOperationException", "", ns=CORAL_NS)
        with self.lock:
            return fn(body)


def forge(op, body):
    """The attacker's answer: plausible enough that boto3 accepts it."""
    if op == "GetItem":
        item = dict(body.get("Key") or {})
        item["forged"] = {"S": "by the attacker"}
        return {"Item": item}
    if op == "ListTables":
        return {"TableNames": []}
    return {}


def sigv4_fields(auth):
    """(access key id, signature) from a SigV4 Authorization header."""
    akid = sig = ""
    if auth.startswith("AWS4-HMAC-SHA256 "):
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            k, _, v = part.strip().partition("=")
            if k == "Credential":
                akid = v.split("/", 1)[0]
            elif k == "Signature":
                sig = v
    return akid, sig


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"	# keep-alive, as DynamoDB does
    server_version = "Server"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass	# requests go to --log as JSON, not to stderr

    def _record(self, raw):
        log = self.server.log
        if log is None:
            return
        auth = self.headers.get("Authorization", "")
        akid, sig = sigv4_fields(auth)
        rec = {
            "ts": time.time(),
            "role": self.server.role,
            "client": "%s:%d" % self.client_address[:2],
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": raw.decode("utf-8", "replace"),
            "target": self.headers.get("X-Amz-Target", ""),
            "access_key_id": akid,
            "signature": sig,
        }
        line = json.dumps(rec, sort_keys=True) + "\n"
        with self.server.log_lock:
            log.write(line)
            log.flush()

    def _reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId",
                         uuid.uuid4().hex.upper() + "ABCDEFGHIJKLMNOPQRST")
        self.send_header("x-amz-crc32", str(zlib.crc32(data) & 0xFFFFFFFF))
        if self.server.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_POST(self):
        raw = self._body()
        self._record(raw)
        target = self.headers.get("X-Amz-Target", "")
        try:
            if not target.startswith(PREFIX):
                raise DdbError("UnknownOperationException", "", ns=CORAL_NS)
            if not self.headers.get("Authorization", "").startswith(
                    "AWS4-HMAC-SHA256 "):
                raise DdbError("MissingAuthenticationTokenException",
                               "Request is missing Authentication Token",
                               ns=CORAL_NS)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise DdbError("SerializationException",
                               "Start of structure or map found where not "
                               "expected", ns=CORAL_NS)
            if not isinstance(body, dict):
                raise DdbError("SerializationException", "not an object",
                               ns=CORAL_NS)
            op = target[len(PREFIX):]
            if self.server.store is None:
                out = forge(op, body)
            else:
                out = self.server.store.run(op, body)
            self._reply(200, out)
        except DdbError as e:
            self._reply(e.status, {"__type": e.kind, "message": e.message})

    def do_GET(self):
        # DynamoDB answers GET / with a health text; so do we.
        self._record(b"")
        data = b"healthy: dynamodb.us-east-1.amazonaws.com\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, role, store, log, close):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, Handler)
        self.role = role
        self.store = store
        self.log = log
        self.log_lock = threading.Lock()
        self.close = close


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("role", choices=["standin", "attacker"])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", help="record every request here (JSON lines)")
    ap.add_argument("--seed", help="JSON list of [Operation, body] pairs")
    ap.add_argument("--close", action="store_true",
                    help="close the connection after every answer")
    a = ap.parse_args()
    if a.role == "attacker" and not a.log:
        ap.error("the attacker needs --log")

    store = None
    if a.role == "standin":
        store = Store()
        if a.seed:
            with open(a.seed) as f:
                for op, body in json.load(f):
                    store.run(op, body)
    log = open(a.log, "a", buffering=1) if a.log else None
    try:
        srv = Server((a.bind, a.port), a.role, store, log, a.close)
    except OSError as e:
        print("ddb.py %s: cannot bind %s:%d: %s" % (a.role, a.bind, a.port,
                                                   e.strerror),
              file=sys.stderr)
        sys.exit(3 if e.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL)
                 else 1)

    def stop(signum, frame):
        # shutdown() waits for serve_forever: run it off this thread.
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("READY %s http://%s:%d pid=%d" % (a.role, a.bind, a.port,
                                           os.getpid()), flush=True)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
