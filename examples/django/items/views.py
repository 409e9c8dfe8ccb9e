"""GET /items/<table>/<key> through boto3, as the FastAPI seed app does:
200 the item, 404 no such item, 500 ClientError, 503 endpoint unreachable
(EndpointConnectionError: under pindns, a refused or failed lookup)."""

from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.http import JsonResponse

# One client per process, made at import (boto3 clients are thread-safe).
# No retries and short timeouts: a refused lookup is a 503 at once.
ddb = boto3.client(
    "dynamodb",
    region_name=settings.DYNAMODB_REGION,
    endpoint_url=settings.DYNAMODB_ENDPOINT,
    config=Config(connect_timeout=settings.DYNAMODB_CONNECT_TIMEOUT,
                  read_timeout=settings.DYNAMODB_READ_TIMEOUT,
                  retries={"mode": "standard",
                           "total_max_attempts":
                               settings.DYNAMODB_MAX_ATTEMPTS}),
)
_plain = TypeDeserializer()


def _json(obj):
    # Numbers come back as Decimal; JSON has no such type.
    if isinstance(obj, dict):
        return {k: _json(v) for k, v in obj.items()}
    if isinstance(obj, (list, set, tuple)):
        return [_json(v) for v in obj]
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("latin-1")
    return obj


def healthz(request):
    return JsonResponse({"ok": True})


def get_item(request, table, key):
    try:
        r = ddb.get_item(TableName=table,
                         Key={settings.DYNAMODB_KEY: {"S": key}})
    except BotoConnectionError as e:
        return JsonResponse({"detail": "DynamoDB unreachable: %s" % e},
                            status=503)
    except ClientError as e:
        return JsonResponse(
            {"detail": e.response.get("Error", {}).get("Code", "error")},
            status=500)
    item = r.get("Item")
    if item is None:
        return JsonResponse({"detail": "no such item"}, status=404)
    return JsonResponse(_json({k: _plain.deserialize(v)
                               for k, v in item.items()}))
