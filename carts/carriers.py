"""Infoplus carrier names -> each cart's carrier vocabulary, in one place.

Infoplus's Shipment.carrierCompany is free text ("UPS", "FedEx Ground", "USPS First Class" …). It is matched
by its leading words, ignoring case, spaces and punctuation ("FEDEX GROUND" -> FedEx), longest alias first
(so "DHL eCommerce" is not read as "DHL").

Fallback for a carrier not listed here (documented rule):
- Shopify gets Infoplus's name as the tracking company, as written (Shopify shows it; no link is generated);
- WooCommerce Shipment Tracking gets it as `custom_tracking_provider`;
- BigCommerce gets `shipping_provider: ""` and `tracking_carrier: ""` (BigCommerce's "custom" carrier), and
  the name travels in the shipment's comments;
- no tracking URL is invented. An empty name becomes "Other".
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Carrier:
    """One carrier as every cart names it."""

    infoplus_name: str  # as Infoplus wrote it: shown to people when nothing better is known
    shopify: str  # Shopify's tracking company name (FulfillmentTrackingInput.company)
    woocommerce: str | None  # Shipment Tracking's provider name; None = send as custom_tracking_provider
    bigcommerce_provider: str  # v2 shipment `shipping_provider` ("" = custom)
    bigcommerce_carrier: str  # v2 shipment `tracking_carrier` ("" = none)
    url_template: str | None = None  # "{number}" is replaced by the tracking number

    @property
    def known(self) -> bool:
        return self.url_template is not None

    def tracking_url(self, number: str) -> str | None:
        return self.url_template.format(number=number) if self.url_template else None


# (aliases, Shopify, WooCommerce Shipment Tracking, BigCommerce shipping_provider, BigCommerce tracking_carrier, URL)
_KNOWN: tuple[tuple[tuple[str, ...], str, str, str, str, str], ...] = (
    (("ups", "unitedparcel"), "UPS", "UPS", "ups", "ups", "https://www.ups.com/track?tracknum={number}"),
    (("fedex", "federalexpress"), "FedEx", "Fedex", "fedex", "fedex",
     "https://www.fedex.com/fedextrack/?trknbr={number}"),
    (("usps", "unitedstatespostal", "uspostal"), "USPS", "USPS", "usps", "usps",
     "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    (("dhlecommerce", "dhlglobalmail"), "DHL eCommerce", "DHL US", "", "dhl-global-mail",
     "https://webtrack.dhlecs.com/?trackingnumber={number}"),
    (("dhl",), "DHL Express", "DHL", "", "dhl",
     "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}"),
    (("canadapost",), "Canada Post", "Canada Post", "canadapost", "canada-post",
     "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}"),
    (("australiapost", "auspost"), "Australia Post", "Australia Post", "auspost", "australia-post",
     "https://auspost.com.au/mypost/track/details/{number}"),
    (("royalmail",), "Royal Mail", "Royal Mail", "royalmail", "royal-mail",
     "https://www.royalmail.com/track-your-item#/tracking-results/{number}"),
    (("ontrac",), "OnTrac", "OnTrac", "", "ontrac", "https://www.ontrac.com/tracking/?number={number}"),
    (("purolator",), "Purolator", "Purolator", "", "purolator",
     "https://www.purolator.com/en/shipping/tracker?pin={number}"),
)
# Longest alias first, so a more specific name wins over its prefix ("dhlecommerce" before "dhl").
_ALIASES = sorted(((alias, entry) for entry in _KNOWN for alias in entry[0]), key=lambda pair: -len(pair[0]))


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def carrier_for(infoplus_name: str | None) -> Carrier:
    """The carrier named by Infoplus, in every cart's vocabulary (the fallback is described above)."""
    name = (infoplus_name or "").strip() or "Other"
    key = _normalized(name)
    for alias, (_, shopify, woo, bc_provider, bc_carrier, url) in _ALIASES:
        if key.startswith(alias):
            return Carrier(name, shopify, woo, bc_provider, bc_carrier, url)
    return Carrier(name, shopify=name, woocommerce=None, bigcommerce_provider="", bigcommerce_carrier="")
