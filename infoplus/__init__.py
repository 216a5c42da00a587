"""The Infoplus WMS REST API (v3.0): the client and the mapping of cart orders to Infoplus orders."""
