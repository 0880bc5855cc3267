"""``python -m notification_worker``: run the service."""

from common.app import serve
from notification_worker.main import create_app
from notification_worker.settings import NotificationSettings

if __name__ == "__main__":
    serve(create_app, NotificationSettings())
