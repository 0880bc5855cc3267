"""Signed webhooks to merchants: endpoints (``api``), the delivery worker (``worker``)
recording each payment event once per endpoint and delivering it (``sender``), retried on
a schedule (``schedule``) to targets the policy allows (``targets``). docs/merchants.md."""
