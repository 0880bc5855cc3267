"""``python -m notification_worker``: run the service."""

from common.app import serve
from common.settings import Settings
from notification_worker.main import create_app

if __name__ == "__main__":
    serve(create_app, Settings(service_name="notification_worker"))
