"""WooCommerce: signed order webhooks in, REST v3 (`{store_url}/wp-json/wc/v3/…`, Basic auth) out."""
from carts.base import CartPlatform
from carts.woocommerce.catalog import WooCommerceCatalog
from carts.woocommerce.deliveries import WooCommerceDeliveries
from carts.woocommerce.inventory import WooCommerceStock
from carts.woocommerce.onboarding import WooCommerceOnboarding
from carts.woocommerce.tracking import WooCommerceTracking

PLATFORM = CartPlatform(name="woocommerce", deliveries=WooCommerceDeliveries(), stock=WooCommerceStock,
                        tracking=WooCommerceTracking, catalog=WooCommerceCatalog,
                        onboarding=WooCommerceOnboarding)
