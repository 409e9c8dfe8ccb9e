"""ASGI entry point: uvicorn ddbsite.asgi:application --app-dir examples/django"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddbsite.settings")
application = get_asgi_application()
