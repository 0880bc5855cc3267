"""Foreign exchange (docs/fx.md): the currencies' rates against one pivot currency, kept
with every change in Postgres and cached in Redis; a simulated feed for the local stack
and tests; rates set by admins; quotes that lock a rate for a short time."""
