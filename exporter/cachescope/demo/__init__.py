"""`cachescope demo`: the whole path on loopback, from a cache in trouble to a notification.

Local redis-server (a primary and its replica), memcached, cachescope, prometheus with the
rules rendered from the thresholds, and alertmanager sending to a webhook this process
serves and prints. No Docker; the Debian packages provide every binary.
"""
