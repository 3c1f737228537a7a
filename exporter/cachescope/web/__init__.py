"""The HTTP side: the front that reads requests, the endpoints, TLS and basic auth."""
