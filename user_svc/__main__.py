"""``python -m user_svc``: run the service."""

from common.app import serve
from common.settings import Settings
from user_svc.main import create_app

if __name__ == "__main__":
    serve(create_app, Settings(service_name="user_svc"))
