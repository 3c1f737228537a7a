"""Alert and recording rules: definitions as data, rendered from one thresholds file.

`rules/thresholds.yml` holds every threshold, `for` and severity; the modules
`redis_health`, `redis_topology`, `memcached` and `exporter` hold the rule
templates; `render` turns both into Prometheus rule files or a PrometheusRule.
"""
