"""Alert and recording rules: definitions as data, rendered from one thresholds file.

`rules/thresholds.yml` holds every threshold, `for` and severity; the alert registry
(cachescope/alerts/) holds each alert's templates, and `recording` the recording rules;
`render` turns them into Prometheus rule files or a PrometheusRule, and `docs` renders
docs/runbooks.md and README's alert tables from the registry.
"""
