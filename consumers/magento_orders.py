"""`magento-orders`: polls each Magento connection for orders changed since its cursor and publishes them to
`cart.orders` — Magento Open Source has no outgoing webhooks, so this is how its orders arrive.

Every `MAGENTO_POLL_SECONDS` (60 s), for each Magento connection, `GET {store_url}/rest/{store_code}/V1/orders`
with search criteria `updated_at gteq <cursor − 2 min>`, sorted by `entity_id`, 100 a page (carts.magento.api),
and each order becomes the same normalized `cart.order` event the webhook platforms publish
(carts.magento.deliveries.order_delivery: one event id per order version). The orders consumer applies the
usual rules: paid, go-live guard, already fulfilled, changes after creation. The cursor (the newest `updated_at`
listed) is kept on the compacted topic `magento.orders.cursors`. A store failing (429, 5xx, timeouts) opens its
connection's circuit (flow `magento_polling`) and is skipped, not called, until its back-off is over; the other
stores are polled as usual. The polling itself — cursor, overlap, publishing, failures, circuits, `--once` — is
consumers/order_polling.py, shared with WooCommerce reconciliation.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import requests

from carts.magento import PLATFORM
from carts.magento.api import MagentoAPI
from carts.magento.deliveries import order_delivery
from consumers import order_polling
from events import topics
from schemas.connection import Connection


def orders_updated_since(connection: Connection, since: datetime, timeout: tuple[float, float],
                         session: requests.Session) -> Iterable[dict[str, Any]]:
    return MagentoAPI(connection, timeout=timeout, session=session).orders_updated_since(since)


POLLED = order_polling.PolledOrders(platform=PLATFORM.name, flow="magento_polling", title="Magento order polling",
                                    cursor_topic=topics.MAGENTO_ORDER_CURSORS, via="polling",
                                    list_changed=orders_updated_since, delivery=order_delivery)


def main(argv: list[str] | None = None) -> None:
    order_polling.main(POLLED, lambda settings: settings.magento_poll_seconds, "python -m consumers.magento_orders",
                       __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    main()
