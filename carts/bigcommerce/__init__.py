"""BigCommerce: Standard Webhooks (thin payloads) in, `{api_base_url}/stores/{store_hash}/v2|v3/…` out."""
