"""HTTP routes of user_svc (mounted without the gateway's ``/api/v1`` prefix)."""
