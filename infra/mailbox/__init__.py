"""The local SMTP server (aiosmtpd) that keeps every message it receives as a file."""
