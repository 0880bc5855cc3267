"""``python -m audit_svc``: run the service."""

from audit_svc.main import create_app
from common.app import serve
from common.settings import Settings

if __name__ == "__main__":
    serve(create_app, Settings(service_name="audit_svc"))
