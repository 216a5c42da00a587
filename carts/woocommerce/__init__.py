"""WooCommerce: signed order webhooks in, REST v3 (`{store_url}/wp-json/wc/v3/…`, Basic auth) out."""
