"""Run the stand-ins in the foreground: `python -m sandbox [--infoplus-port 8081] ...`.

Stops on SIGTERM or Ctrl-C. Each request is logged on one line. Created orders can be seen with
`curl http://127.0.0.1:8081/_sandbox/orders`, each stand-in's state with `.../_sandbox/state`.
The demo SKUs (SKU-1, SKU-2) are seeded everywhere: Infoplus items in the LOB with some
orderable stock, and zero stock in each store, so an inventory sync has something to push.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Sequence

from .bigcommerce import BigCommerceStandIn
from .infoplus import InfoplusStandIn
from .magento import MagentoStandIn
from .sample import DEFAULT_SKUS
from .shopify import DEFAULT_LOCATION, ShopifyStandIn
from .woocommerce import WooCommerceStandIn

DEMO_ORDERABLE = 10
#: Infoplus ShoppingCartConnection ids seeded for the demo, one per cart platform.
DEMO_CONNECTIONS = ((101, "Shopify"), (102, "WooCommerce"), (103, "BigCommerce"), (104, "Magento"))


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--infoplus-port", type=int, default=8081)
    parser.add_argument("--shopify-port", type=int, default=8082)
    parser.add_argument("--woocommerce-port", type=int, default=8083)
    parser.add_argument("--bigcommerce-port", type=int, default=8084)
    parser.add_argument("--magento-port", type=int, default=8085)
    parser.add_argument("--api-key", default="test-key", help="Infoplus API-Key to require")
    parser.add_argument("--shopify-token", default="shpat_test",
                        help="X-Shopify-Access-Token to require")
    parser.add_argument("--woo-key", default="ck_test", help="WooCommerce consumer key")
    parser.add_argument("--woo-secret", default="cs_test", help="WooCommerce consumer secret")
    parser.add_argument("--bigcommerce-hash", default="abc123", help="BigCommerce store hash")
    parser.add_argument("--bigcommerce-token", default="bc_test",
                        help="BigCommerce X-Auth-Token to require")
    parser.add_argument("--lob-id", type=int, default=10000, help="Infoplus LOB of the demo items")
    parser.add_argument("--sku", action="append",
                        help=f"SKU to seed in every stand-in (default: {', '.join(DEFAULT_SKUS)})")
    return parser.parse_args(argv)


def _seed(args: argparse.Namespace, infoplus: InfoplusStandIn, shopify: ShopifyStandIn,
          woo: WooCommerceStandIn, bigcommerce: BigCommerceStandIn, magento: MagentoStandIn) -> None:
    for sku in args.sku or DEFAULT_SKUS:
        infoplus.add_item(args.lob_id, sku, DEMO_ORDERABLE)
        shopify.add_variant(sku, quantity=0)
        woo.add_product(sku, stock_quantity=0)
        bigcommerce.add_variant(sku, quantity=0)
        magento.add_source_item(sku, 0)
    urls = {"Shopify": shopify.base_url, "WooCommerce": woo.store_url,
            "BigCommerce": bigcommerce.api_base_url, "Magento": magento.store_url}
    for connection_id, platform in DEMO_CONNECTIONS:
        infoplus.add_connection(connection_id, args.lob_id, 55, connectionType=platform,
                                name=f"Demo {platform}", shoppingCartStoreURL=urls[platform])


def _banner(infoplus: InfoplusStandIn, shopify: ShopifyStandIn, woo: WooCommerceStandIn,
            bigcommerce: BigCommerceStandIn, magento: MagentoStandIn, args: argparse.Namespace) -> str:
    # The first line names the Infoplus URL third word; scripts and tests read it there.
    return "\n".join([
        f"Infoplus stand-in: {infoplus.base_url}  (API under {infoplus.api_url})",
        f"  INFOPLUS_BASE_URL={infoplus.base_url} INFOPLUS_API_KEY={args.api_key}",
        f"  created orders:   curl {infoplus.url('/_sandbox/orders')}",
        f"  connections {', '.join(str(c) for c, _ in DEMO_CONNECTIONS)}; items in LOB "
        f"{args.lob_id}: curl {infoplus.url('/_sandbox/state')}",
        f"Shopify stand-in:  {shopify.base_url}",
        f"  connection: store_url: {shopify.base_url}  access_token: {args.shopify_token}"
        f"  location_id: {DEFAULT_LOCATION}",
        f"  state:            curl {shopify.url('/_sandbox/state')}",
        f"WooCommerce stand-in: {woo.store_url}",
        f"  connection: store_url: {woo.store_url}  consumer_key: {args.woo_key}"
        f"  consumer_secret: {args.woo_secret}",
        f"  state:            curl {woo.url('/_sandbox/state')}",
        f"BigCommerce stand-in: {bigcommerce.api_base_url}",
        f"  connection: api_base_url: {bigcommerce.api_base_url}  store_hash: "
        f"{args.bigcommerce_hash}  access_token: {args.bigcommerce_token}  location_id: 1",
        f"  state:            curl {bigcommerce.url('/_sandbox/state')}",
        f"Magento stand-in:  {magento.store_url}  (REST under /rest/default/V1/, OAuth 1.0a; no standalone bearer)",
        f"  connection: store_url: {magento.store_url}  consumer_key: {magento.consumer_key}  consumer_secret: "
        f"{magento.consumer_secret}  access_token: {magento.access_token}  access_token_secret: "
        f"{magento.access_token_secret}",
        f"  state:            curl {magento.url('/_sandbox/state')}",
        "Ctrl-C or SIGTERM stops."])


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    infoplus = InfoplusStandIn(api_key=args.api_key, port=args.infoplus_port)
    shopify = ShopifyStandIn(access_token=args.shopify_token, port=args.shopify_port, strict=False)
    woo = WooCommerceStandIn(args.woo_key, args.woo_secret, port=args.woocommerce_port,
                             shipment_tracking=True)
    bigcommerce = BigCommerceStandIn(args.bigcommerce_hash, args.bigcommerce_token,
                                     port=args.bigcommerce_port)
    magento = MagentoStandIn(bearer_allowed=False, port=args.magento_port)
    _seed(args, infoplus, shopify, woo, bigcommerce, magento)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with infoplus, shopify, woo, bigcommerce, magento:
        print(_banner(infoplus, shopify, woo, bigcommerce, magento, args), flush=True)
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    logging.getLogger("sandbox").info("stand-ins stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
