"""`cartbridge-shopify-fulfillment-service`: Shopify "Fulfilled by Infoplus" from the command line.

    cartbridge-shopify-fulfillment-service --connection 101 --base-url https://cartbridge.example.com
        finds or creates the connection's fulfillment service (fulfillmentServiceCreate, callback URL
        <base-url>/webhooks/carts/101, inventory and tracking support on) and prints its location id, to put in
        the connection file as `location_id` beside `fulfillment_service: true`. Re-running it changes nothing.

    cartbridge-shopify-fulfillment-service --connection 101 --accept-cancellation <fulfillment order id>
    cartbridge-shopify-fulfillment-service --connection 101 --reject-cancellation <id> --message "already shipped"
        answers a cancellation request the orders consumer handed to ops (`ops must act`, cancel_in_infoplus),
        once ops have cancelled the order in Infoplus (accept) or found it already gone (reject).

The base URL may come from `CARTBRIDGE_PUBLIC_URL` instead. Exit 0 done, 1 Shopify refused, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys

from carts.shopify.fulfillment_service import ShopifyFulfillmentService, callback_url
from config.connections import ConnectionRegistry, RegistryError
from config.settings import Settings
from outbound.errors import OutboundError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cartbridge-shopify-fulfillment-service",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection", type=int, required=True, help="the Shopify connection id")
    parser.add_argument("--base-url", default=os.environ.get("CARTBRIDGE_PUBLIC_URL"),
                        help="where Shopify reaches the web process (default: $CARTBRIDGE_PUBLIC_URL)")
    parser.add_argument("--name", default="Infoplus", help="the fulfillment service's name (default: Infoplus)")
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument("--accept-cancellation", metavar="FULFILLMENT_ORDER_ID")
    answer.add_argument("--reject-cancellation", metavar="FULFILLMENT_ORDER_ID")
    parser.add_argument("--message", default="", help="the reason shown to the merchant")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        connection = ConnectionRegistry(settings.connections_file).get(args.connection)
    except RegistryError as error:
        print(error, file=sys.stderr)
        return 2
    if connection is None or connection.platform != "shopify":
        print(f"connection {args.connection} is not a Shopify connection in {settings.connections_file}",
              file=sys.stderr)
        return 2
    if args.accept_cancellation or args.reject_cancellation:
        return _answer_cancellation(connection, settings, args)
    if not args.base_url:
        print("give --base-url (or set CARTBRIDGE_PUBLIC_URL): where Shopify reaches cartbridge", file=sys.stderr)
        return 2
    service = ShopifyFulfillmentService(connection, timeout=settings.http_timeout)
    try:
        registration = service.register(args.name, callback_url(args.base_url, connection.id))
    except OutboundError as error:
        print(f"Shopify: {error}", file=sys.stderr)
        return 1
    print(f"fulfillment service {registration.service_id} {registration.changed}; "
          f"callback {registration.callback_url}")
    print(f"location_id: {registration.location_id}")
    if connection.location_id != registration.location_id or not connection.fulfillment_service:
        print(f"set `location_id: {registration.location_id}` and `fulfillment_service: true` on connection "
              f"{connection.id}")
    return 0


def _answer_cancellation(connection, settings: Settings, args: argparse.Namespace) -> int:
    accept = bool(args.accept_cancellation)
    fo_id = args.accept_cancellation or args.reject_cancellation
    if not fo_id.startswith("gid://"):
        fo_id = f"gid://shopify/FulfillmentOrder/{fo_id}"
    message = args.message or ("cancelled in Infoplus" if accept else "")
    if not accept and not message:
        print("give --message: the merchant reads why the cancellation was refused", file=sys.stderr)
        return 2
    service = ShopifyFulfillmentService(connection, timeout=settings.http_timeout)
    try:
        errors = service.answer("cancellation", fo_id, accept, message)
    except OutboundError as error:
        print(f"Shopify: {error}", file=sys.stderr)
        return 1
    if errors:
        print(f"Shopify refused: {errors}", file=sys.stderr)
        return 1
    print(f"cancellation request of {fo_id} {'accepted' if accept else 'rejected'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
