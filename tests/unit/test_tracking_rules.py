"""The platform-neutral tracking rules (carts/carriers.py, carts/tracking.py): pure functions, no I/O."""
from __future__ import annotations

import pytest

from carts.carriers import carrier_for
from carts.tracking import Parcel, TrackingUpdate, allocate, mentions
from schemas.tracking import InfoplusOrderSchema


@pytest.mark.parametrize("infoplus_name, shopify, woo, bc_provider, bc_carrier", [
    ("UPS", "UPS", "UPS", "ups", "ups"),
    ("UPS Ground", "UPS", "UPS", "ups", "ups"),
    ("FEDEX 2DAY", "FedEx", "Fedex", "fedex", "fedex"),
    ("Fed-Ex", "FedEx", "Fedex", "fedex", "fedex"),
    ("USPS First Class", "USPS", "USPS", "usps", "usps"),
    ("DHL eCommerce", "DHL eCommerce", "DHL US", "", "dhl-global-mail"),
    ("DHL Express Worldwide", "DHL Express", "DHL", "", "dhl"),
    ("Canada Post", "Canada Post", "Canada Post", "canadapost", "canada-post"),
])
def test_known_carriers_map_to_each_carts_vocabulary(infoplus_name, shopify, woo, bc_provider, bc_carrier):
    carrier = carrier_for(infoplus_name)
    assert (carrier.shopify, carrier.woocommerce, carrier.bigcommerce_provider, carrier.bigcommerce_carrier) == (
        shopify, woo, bc_provider, bc_carrier)
    assert carrier.tracking_url("X1") and "X1" in carrier.tracking_url("X1")


def test_an_unknown_carrier_keeps_its_name_and_gets_no_invented_link():
    carrier = carrier_for("Acme Couriers")
    assert carrier.shopify == "Acme Couriers" and carrier.woocommerce is None
    assert carrier.bigcommerce_provider == "" and carrier.bigcommerce_carrier == ""
    assert carrier.tracking_url("X1") is None
    assert carrier_for("").infoplus_name == carrier_for(None).infoplus_name == "Other"


def update(shipped: dict, total: dict, *numbers: str) -> TrackingUpdate:
    parcels = tuple(Parcel(n, carrier_for("UPS")) for n in numbers)
    return TrackingUpdate("1", "1000", parcels, shipped, total)


def test_a_backorder_child_fulfils_its_own_lines_and_never_the_parents_twice():
    parent_first = update({"A": 1}, {"A": 1})
    assert parent_first.to_fulfil({}) == {"A": 1}
    child_after_parent = update({"A": 1, "B": 1}, {"A": 2, "B": 1})
    assert child_after_parent.to_fulfil({"A": 1}) == {"A": 1, "B": 1}
    assert child_after_parent.to_fulfil({"A": 2, "B": 1}) == {}
    # the child processed before the parent: it takes only its own units
    assert update({"B": 1}, {"A": 1, "B": 1}).to_fulfil({}) == {"B": 1}


def test_numbers_already_in_the_cart_are_not_missing_whatever_their_case():
    assert [p.tracking_no for p in update({}, {}, "1zA", "1ZB").missing(["1ZA", ""])] == ["1ZB"]
    assert mentions("Shipped: UPS 1Z9 (https://x/?n=1Z9)", "1z9")
    assert not mentions("UPS 1Z99", "1Z9")


def test_allocate_spreads_a_sku_over_open_lines_in_order():
    lines = [("l1", "A", 1), ("l2", "B", 5), ("l3", "A", 3)]
    assert allocate({"A": 3, "B": 2}, lines) == [("l1", 1), ("l2", 2), ("l3", 2)]


def test_an_order_shipped_without_line_quantities_counts_as_shipped_whole():
    shipped = InfoplusOrderSchema().load({"orderNo": 1000.0, "lobId": 1, "status": "Shipped",
                                          "lineItems": [{"sku": "A", "orderedQty": 2}]})
    pending = InfoplusOrderSchema().load({"orderNo": 1000.001, "lobId": 1, "status": "Backorder",
                                          "lineItems": [{"sku": "A", "orderedQty": 2, "shippedQty": 1}]})
    assert shipped.shipped_by_sku() == {"A": 2} and shipped.number == "1000"
    assert pending.shipped_by_sku() == {"A": 1} and pending.number == "1000.001"
