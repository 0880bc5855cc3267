"""The one Alembic environment of every service's history (``common.migrate``).

``common.migrate`` runs ``alembic.command.upgrade`` with the connection it holds (inside
its advisory lock) and the service's schema in ``config.attributes``: Alembic's recipe for
sharing a connection with a programmatic command.
"""

from alembic import context

config = context.config
context.configure(
    connection=config.attributes["connection"],
    version_table_schema=config.attributes["schema"],
    include_schemas=True,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
