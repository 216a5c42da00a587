"""Magento 2 / Adobe Commerce: orders polled (no webhooks), REST `{store_url}/rest/{store_code}/V1/…` out,
with OAuth 1.0a (HMAC-SHA256) or a Bearer token (docs/magento.md)."""
from carts.base import CartPlatform
from carts.magento.catalog import MagentoCatalog
from carts.magento.deliveries import MagentoDeliveries
from carts.magento.inventory import MagentoStock
from carts.magento.onboarding import MagentoOnboarding
from carts.magento.tracking import MagentoTracking

PLATFORM = CartPlatform(name="magento", deliveries=MagentoDeliveries(), stock=MagentoStock,
                        tracking=MagentoTracking, catalog=MagentoCatalog,
                        onboarding=MagentoOnboarding)
