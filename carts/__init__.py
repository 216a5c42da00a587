"""One module per cart platform, each with the same small surface (see carts.base.CartPlatform).

Adding a platform means adding its module (and its payload schema) and one line in PLATFORMS.
"""
from __future__ import annotations

from carts import bigcommerce, magento, shopify, woocommerce
from carts.base import CartPlatform

PLATFORMS: dict[str, CartPlatform] = {
    shopify.PLATFORM.name: shopify.PLATFORM,
    woocommerce.PLATFORM.name: woocommerce.PLATFORM,
    bigcommerce.PLATFORM.name: bigcommerce.PLATFORM,
    magento.PLATFORM.name: magento.PLATFORM,
}


def platform_for(name: str) -> CartPlatform:
    return PLATFORMS[name]
