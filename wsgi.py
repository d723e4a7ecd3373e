"""The WSGI entry point: `flask` finds `app` here, and so do gunicorn and `make run`."""

from compliance import create_app

app = create_app()
