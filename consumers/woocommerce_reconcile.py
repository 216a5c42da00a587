"""`woo-reconcile`: finds WooCommerce orders whose webhook never arrived and publishes them to `cart.orders`.

WooCommerce never retries a failed delivery (and disables a webhook after repeated failures), so every
`WOOCOMMERCE_RECONCILE_SECONDS` (60 s) this process lists, for each WooCommerce connection, the orders modified
after its cursor through `GET {store_url}/wp-json/wc/v3/orders?modified_after=…&dates_are_gmt=true` (Basic auth,
paged by id), and publishes each as exactly the event the webhook would have made
(carts.woocommerce.deliveries.order_delivery: same event id for the same order version) — the orders consumer
treats a webhook and a reconciliation event of one version as one. The cursor (the newest `date_modified_gmt`
listed) is kept on the compacted topic `woocommerce.reconcile.cursors`. The polling itself — cursor, overlap,
publishing, failures, `--once` — is consumers/order_polling.py, shared with Magento's order polling.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import requests

from carts.woocommerce import PLATFORM
from carts.woocommerce.api import WooCommerceAPI
from carts.woocommerce.deliveries import order_delivery
from consumers import order_polling
from events import topics
from schemas.connection import Connection


def orders_modified_after(connection: Connection, since: datetime, timeout: tuple[float, float],
                          session: requests.Session) -> Iterable[dict[str, Any]]:
    return WooCommerceAPI(connection, timeout=timeout, session=session).orders_modified_after(since)


POLLED = order_polling.PolledOrders(platform=PLATFORM.name, flow="woocommerce_reconciliation",
                                    title="WooCommerce reconciliation",
                                    cursor_topic=topics.WOOCOMMERCE_RECONCILE_CURSORS, via="reconciliation",
                                    list_changed=orders_modified_after, delivery=order_delivery)


def main(argv: list[str] | None = None) -> None:
    order_polling.main(POLLED, lambda settings: settings.woocommerce_reconcile_seconds,
                       "python -m consumers.woocommerce_reconcile", __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    main()
