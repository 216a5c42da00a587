"""Shopify: HMAC-signed order webhooks in (deliveries.py); the Admin GraphQL API out (admin.py)."""
from carts.base import CartPlatform
from carts.shopify.catalog import ShopifyCatalog
from carts.shopify.deliveries import ShopifyDeliveries
from carts.shopify.inventory import ShopifyStock
from carts.shopify.onboarding import ShopifyOnboarding
from carts.shopify.tracking import ShopifyTracking

PLATFORM = CartPlatform(name="shopify", deliveries=ShopifyDeliveries(), tracking=ShopifyTracking,
                        stock=ShopifyStock, catalog=ShopifyCatalog, onboarding=ShopifyOnboarding)
