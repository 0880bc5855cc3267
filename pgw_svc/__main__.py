"""``python -m pgw_svc``: run the service."""

from common.app import serve
from pgw_svc.main import create_app
from pgw_svc.settings import PgwSettings

if __name__ == "__main__":
    serve(create_app, PgwSettings())
