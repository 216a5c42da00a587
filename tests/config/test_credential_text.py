"""A credential with surrounding whitespace or a control character is refused at load (issue 22, item 3).

A Kubernetes secret made with `--from-file` ends in a newline; sent as a header, requests raises InvalidHeader with
the token's value in its message — into the log, the dead letter and the console.
"""
from __future__ import annotations

import pytest
import yaml

from config.connections import RegistryError, parse_connections

SHOPIFY = {"id": 101, "name": "Acme", "platform": "shopify", "store_url": "https://acme.myshopify.com",
           "lob_id": 10000, "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1,
           "webhook_secret": "acme-webhook-secret-0001", "access_token": "shpat_0123456789abcdef"}
WOO = {**SHOPIFY, "platform": "woocommerce", "consumer_key": "ck_0123456789", "consumer_secret": "cs_0123456789"}
MAGENTO = {**SHOPIFY, "platform": "magento", "consumer_key": "mck", "consumer_secret": "mcs",
           "access_token_secret": "mats"}


def load(entry: dict, env: dict[str, str] | None = None):
    return parse_connections(yaml.safe_dump({"connections": [entry]}), "c.yaml", env or {})


@pytest.mark.parametrize("base, field", [(SHOPIFY, "access_token"), (SHOPIFY, "webhook_secret"),
                                         (WOO, "consumer_key"), (WOO, "consumer_secret"),
                                         (MAGENTO, "access_token_secret")])
@pytest.mark.parametrize("bad", ["{}\n", " {}", "{}\t", "{}\r\n", "ab\x00{}", "a\x7f{}"])
def test_whitespace_or_a_control_character_is_refused_naming_connection_and_field(base, field, bad):
    value = bad.format(base[field])
    with pytest.raises(RegistryError, match=rf"connection 101 \(Acme\): field '{field}': .*(whitespace|control)") \
            as caught:
        load({**base, field: "${TOKEN}"}, {"TOKEN": value})
    assert base[field] not in str(caught.value)  # the message names the field, never shows the value


def test_a_credential_inside_is_kept_exactly():
    [connection] = load({**SHOPIFY, "access_token": "${TOKEN}"}, {"TOKEN": "shpat_a+b/c=="}).values()
    assert connection.access_token == "shpat_a+b/c=="


@pytest.mark.parametrize("name", ["INFOPLUS_API_KEY", "INFOPLUS_WEBHOOK_SECRET"])
@pytest.mark.parametrize("bad", ["infoplus-key-0123456789\n", " infoplus-key-0123456789", "infoplus\x00key"])
def test_a_process_credential_with_whitespace_or_a_control_character_is_refused_naming_the_variable(name, bad):
    from config.settings import Settings
    with pytest.raises(ValueError, match=f"{name} has whitespace around it or a control character") as caught:
        Settings.from_env({name: bad})
    assert "infoplus-key" not in str(caught.value)


def test_a_process_credential_is_kept_exactly():
    from config.settings import Settings
    assert Settings.from_env({"INFOPLUS_API_KEY": "a+b/c=="}).infoplus_api_key == "a+b/c=="
