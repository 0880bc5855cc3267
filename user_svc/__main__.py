"""``python -m user_svc``: run the service."""

from common.app import serve
from user_svc.main import create_app
from user_svc.settings import UserSettings

if __name__ == "__main__":
    serve(create_app, UserSettings(service_name="user_svc"))
