"""The ``paystream`` operator command (``infra.ops.cli``)."""
