"""Shopify: HMAC-signed order webhooks in (deliveries.py); the Admin GraphQL API out (admin.py)."""
from carts.base import CartPlatform
from carts.shopify.deliveries import ShopifyDeliveries

PLATFORM = CartPlatform(name="shopify", deliveries=ShopifyDeliveries())
