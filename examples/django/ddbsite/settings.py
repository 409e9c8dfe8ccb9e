"""Settings of the Django example (the seed app's twin).

Nothing here knows about pindns: it protects the process from outside
(LD_PRELOAD, set by `pindns-exec`), so settings and views stay as they
are. The DynamoDB settings are ordinary ones read from the environment.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY",
                            "example-only-not-a-secret-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS",
                               "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = ["items"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "ddbsite.urls"
WSGI_APPLICATION = "ddbsite.wsgi.application"
ASGI_APPLICATION = "ddbsite.asgi.application"
DATABASES = {}		# DynamoDB through boto3 only, no ORM
USE_TZ = True
APPEND_SLASH = False

# Endpoint *name* (never an IP literal): what pindns protects. botocore
# 1.29 (Debian 12) ignores AWS_ENDPOINT_URL_DYNAMODB, so the client is
# given endpoint_url= from here.
DYNAMODB_ENDPOINT = os.environ.get("DYNAMODB_ENDPOINT",
                                   "https://dynamodb.us-east-1.amazonaws.com")
DYNAMODB_REGION = os.environ.get(
    "AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
DYNAMODB_KEY = os.environ.get("DYNAMODB_KEY", "id")
DYNAMODB_CONNECT_TIMEOUT = float(os.environ.get("DYNAMODB_CONNECT_TIMEOUT",
                                                "2"))
DYNAMODB_READ_TIMEOUT = float(os.environ.get("DYNAMODB_READ_TIMEOUT", "5"))
DYNAMODB_MAX_ATTEMPTS = int(os.environ.get("DYNAMODB_MAX_ATTEMPTS", "1"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
