"""Public FX messages on `transaction-events`: an admin's change of exchange rates.

Rates are decimal strings ("0.9213"), never JSON numbers: units of the currency per one
`base` (the pivot currency every rate is kept against).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from contracts.message import Message

DecimalString = Annotated[str, msgspec.Meta(pattern=r"^[0-9]+(\.[0-9]+)?$")]


class FxRatesChanged(Message, frozen=True):
    """An admin (`changed_by`) set the rates of the currencies in `rates` against `base`.
    Key: `fx:rates`."""

    base: str
    rates: dict[str, DecimalString]
    changed_by: str
