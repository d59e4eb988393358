"""A small inventory service: typed, async methods served on every RPC wire.

Serve it (from the repository's top directory) beside the book's two methods::

    twistd -n rpc --service examples.inventory

``Inventory.Reserve`` is an ``async def`` that asks the "warehouse" (a Twisted
``deferLater``: real asynchronous work on the reactor, which serves other calls meanwhile)
and returns a dataclass; ``Inventory.Find`` is a plain function taking lists and optionals
and returning a list of structs with bytes in them; an unknown SKU or a short stock is an
:class:`~netsuite.rpc.ApplicationError` (the second with its own code, ``OUT_OF_STOCK``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet import task

from netsuite.rpc import SERVICE, ApplicationError, CallContext

#: How long the warehouse takes to answer, in seconds.
WAREHOUSE_DELAY = 0.05


@dataclass
class Item:
    """One stock line."""

    sku: str
    name: str
    price: float
    quantity: int
    tags: list[str] = field(default_factory=list)
    thumbnail: bytes | None = None


@dataclass
class Reservation:
    """What :func:`reserve` returns."""

    sku: str
    quantity: int
    left: int
    reserved_by: str


class OutOfStock(ApplicationError):
    """Fewer items left than asked for (AMP error code ``OUT_OF_STOCK``)."""

    code = "OUT_OF_STOCK"


STOCK: dict[str, Item] = {
    "tea-1": Item("tea-1", "Green tea", 4.5, 12, ["tea", "green"], b"\x89PNG\r\n"),
    "tea-2": Item("tea-2", "Black tea", 3.9, 0, ["tea"]),
    "cup-1": Item("cup-1", "Cup", 7.0, 40, ["ware"]),
}


@SERVICE.method("Inventory.Reserve", timeout=5)
async def reserve(sku: str, quantity: int, ctx: CallContext) -> Reservation:
    """Reserve QUANTITY of SKU once the warehouse confirms; the reservation."""
    from twisted.internet import reactor

    await task.deferLater(reactor, WAREHOUSE_DELAY, lambda: None)
    item = STOCK.get(sku)
    if item is None:
        raise ApplicationError(f"no item {sku}")
    if quantity <= 0:
        raise ApplicationError("quantity must be positive")
    if item.quantity < quantity:
        raise OutOfStock(f"only {item.quantity} of {sku} left")
    item.quantity -= quantity
    return Reservation(sku, quantity, item.quantity, ctx.peer or ctx.transport)


@SERVICE.method("Inventory.Find")
def find(tags: list[str], max_price: float | None = None, in_stock: bool = True
         ) -> list[Item]:
    """The items carrying every tag in TAGS, at most MAX_PRICE, in stock unless told."""
    return [item for item in STOCK.values()
            if set(tags) <= set(item.tags)
            and (max_price is None or item.price <= max_price)
            and (item.quantity > 0 or not in_stock)]


@SERVICE.method("Inventory.Counts")
def counts() -> dict[str, int]:
    """Quantity left of every SKU."""
    return {sku: item.quantity for sku, item in STOCK.items()}
