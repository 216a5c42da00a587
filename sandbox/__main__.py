"""Run the stand-ins in the foreground: `python -m sandbox [--infoplus-port 8081] ...`.

Stops on SIGTERM or Ctrl-C. Each request is logged on one line. Created orders can be seen with
`curl http://127.0.0.1:8081/_sandbox/orders`, Shopify state with `.../_sandbox/state`.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Sequence

from .infoplus import InfoplusStandIn
from .sample import DEFAULT_SKUS
from .shopify import DEFAULT_LOCATION, ShopifyStandIn


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--infoplus-port", type=int, default=8081)
    parser.add_argument("--shopify-port", type=int, default=8082)
    parser.add_argument("--api-key", default="test-key", help="Infoplus API-Key to require")
    parser.add_argument("--shopify-token", default="shpat_test",
                        help="X-Shopify-Access-Token to require")
    parser.add_argument("--sku", action="append",
                        help=f"SKU to create in the Shopify stand-in (default: {', '.join(DEFAULT_SKUS)})")
    return parser.parse_args(argv)


def _banner(infoplus: InfoplusStandIn, shopify: ShopifyStandIn, args: argparse.Namespace) -> str:
    return "\n".join([
        f"Infoplus stand-in: {infoplus.base_url}  (API under {infoplus.api_url})",
        f"  INFOPLUS_BASE_URL={infoplus.base_url} INFOPLUS_API_KEY={args.api_key}",
        f"  created orders:   curl {infoplus.url('/_sandbox/orders')}",
        f"Shopify stand-in:  {shopify.base_url}",
        f"  connection: store_url: {shopify.base_url}  access_token: {args.shopify_token}"
        f"  location_id: {DEFAULT_LOCATION}",
        f"  state:            curl {shopify.url('/_sandbox/state')}",
        "Ctrl-C or SIGTERM stops."])


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    infoplus = InfoplusStandIn(api_key=args.api_key, port=args.infoplus_port)
    shopify = ShopifyStandIn(access_token=args.shopify_token, port=args.shopify_port)
    for sku in args.sku or DEFAULT_SKUS:
        shopify.add_variant(sku, quantity=0)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with infoplus, shopify:
        print(_banner(infoplus, shopify, args), flush=True)
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    logging.getLogger("sandbox").info("stand-ins stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
