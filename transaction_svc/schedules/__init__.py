"""Schedules (auto-pay): recurring transfers and payments run by a scheduler (docs/schedules.md)."""
