"""Polled shipments carry their Infoplus order, read a page at a time, so tracking need not `GET order` one by one.

A shipment (one carton) has no lines: tracking needs the order's shipped quantities, normally one `GET order/{no}`
per shipment. When one poll page brings several shipments, the orders they belong to changed at about the same
moment (Infoplus writes the shipped quantities and status beside the carton), so one `order/search` on
`modifyDate` reads them together, 250 a page, across LOBs as the shipments were read (`orderNo` is unique in
Infoplus, so no order is taken for another's): the poller attaches each order found to its shipment events
(`payload.order`). Only an order read after its carton and showing it shipped is used (consumers/tracking.py);
anything missing or older falls back to the per-shipment read, so nothing depends on this but the call count.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from infoplus.client import SEARCH_PAGE_LIMIT, InfoplusClient, quote_filter_value
from outbound.errors import OutboundError

log = logging.getLogger("poller")
MIN_SHIPMENTS = 2  # one shipment costs one GET either way: a page is worth it from two on
MAX_PAGES = 4
MARGIN = timedelta(minutes=10)  # the order may have been marked shipped a little before its carton


def attach_orders(infoplus: InfoplusClient, events: list) -> None:
    """`events`: the (topic, key, envelope) shipment events about to be published; adds `payload.order`."""
    wanted = {float(envelope.payload["order_no"]) for _, _, envelope in events}
    times = [envelope.payload.get("modified_at") for _, _, envelope in events]
    if len(wanted) < MIN_SHIPMENTS or not all(times):
        return
    since = (min(datetime.fromisoformat(t) for t in times) - MARGIN).isoformat(timespec="milliseconds")
    try:
        found = _read_orders(infoplus, since, wanted)
    except OutboundError as error:  # an optimisation only: tracking reads each order itself
        log.info("orders of %d shipments not read ahead (%s); tracking reads them one by one", len(wanted),
                 error.reason)
        return
    for _, _, envelope in events:
        order = found.get(float(envelope.payload["order_no"]))
        if order is not None:
            envelope.payload["order"] = order
    log.info("read %d of %d shipments' orders ahead", len(found), len(wanted))


def _read_orders(infoplus: InfoplusClient, since: str, wanted: set[float]) -> dict[float, dict]:
    filter_ = f"modifyDate ge {quote_filter_value(since)}"  # every LOB, as the shipments were read (orderNo is unique)
    found: dict[float, dict] = {}
    for page in range(1, MAX_PAGES + 1):
        rows = infoplus.search("order", filter_, page=page, sort="modifyDate")
        found.update((float(row["orderNo"]), row) for row in rows if float(row.get("orderNo") or 0) in wanted)
        if len(rows) < SEARCH_PAGE_LIMIT or wanted <= found.keys():
            break
    return found
