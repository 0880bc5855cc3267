"""``python -m infra.alertsink --folder DIR [--host H] [--port P]``: run the receiver."""

from infra.alertsink.server import main

main()
