"""WSGI entry point: gunicorn -w 4 --chdir examples/django ddbsite.wsgi"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddbsite.settings")
application = get_wsgi_application()
