"""``python -m transaction_svc``: run the money command API."""

from common.app import serve
from transaction_svc.main import create_app
from transaction_svc.settings import TransactionSettings

if __name__ == "__main__":
    serve(create_app, TransactionSettings(service_name="transaction_svc"))
