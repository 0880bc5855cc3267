"""``python -m audit_svc``: run the service."""

from audit_svc.main import create_app
from audit_svc.settings import AuditSettings
from common.app import serve

if __name__ == "__main__":
    serve(create_app, AuditSettings())
