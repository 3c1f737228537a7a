"""cachescope: a Prometheus exporter for Redis and Memcached fleets."""

__version__ = "0.1.0"
