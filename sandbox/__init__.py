"""Local HTTP stand-ins for the outside APIs (Infoplus, Shopify, WooCommerce, BigCommerce) and
sample deliveries.

Nothing here imports the product: the stand-ins speak the real paths, headers, payloads and
error codes, so tests and local runs exercise the product's real HTTP clients.
"""
from .bigcommerce import BigCommerceStandIn
from .httpserver import Call, HttpError, Request, StandIn, route
from .infoplus import InfoplusStandIn
from .shopify import ShopifyStandIn
from .woocommerce import WooCommerceStandIn

__all__ = ["BigCommerceStandIn", "Call", "HttpError", "InfoplusStandIn", "Request",
           "ShopifyStandIn", "StandIn", "WooCommerceStandIn", "route"]
