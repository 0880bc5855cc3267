"""``python -m gateway``: run the service."""

from common.app import serve
from gateway.main import create_app
from gateway.settings import GatewaySettings

if __name__ == "__main__":
    serve(create_app, GatewaySettings(service_name="gateway"))
