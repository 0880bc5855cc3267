"""``python -m infra.mailbox --folder DIR [--host H] [--port P]``: run the SMTP server."""

from infra.mailbox.server import main

main()
