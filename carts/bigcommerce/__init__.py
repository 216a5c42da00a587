"""BigCommerce: Standard Webhooks (thin payloads) in, `{api_base_url}/stores/{store_hash}/v2|v3/…` out."""
from carts.base import CartPlatform
from carts.bigcommerce.catalog import BigCommerceCatalog
from carts.bigcommerce.deliveries import BigCommerceDeliveries
from carts.bigcommerce.inventory import BigCommerceStock
from carts.bigcommerce.onboarding import BigCommerceOnboarding
from carts.bigcommerce.orders import BigCommerceOrders
from carts.bigcommerce.tracking import BigCommerceTracking

PLATFORM = CartPlatform(name="bigcommerce", deliveries=BigCommerceDeliveries(), orders=BigCommerceOrders,
                        stock=BigCommerceStock, tracking=BigCommerceTracking, catalog=BigCommerceCatalog,
                        onboarding=BigCommerceOnboarding)
