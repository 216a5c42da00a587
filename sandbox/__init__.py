"""Local HTTP stand-ins for the outside APIs (Infoplus, Shopify) and sample cart deliveries.

Nothing here imports the product: the stand-ins speak the real paths, headers, payloads and
error codes, so tests and local runs exercise the product's real HTTP clients.
"""
from .httpserver import Call, HttpError, Request, StandIn, route
from .infoplus import InfoplusStandIn
from .shopify import ShopifyStandIn

__all__ = ["Call", "HttpError", "InfoplusStandIn", "Request", "ShopifyStandIn", "StandIn", "route"]
