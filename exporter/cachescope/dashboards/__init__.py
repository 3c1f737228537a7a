"""Grafana dashboards as plain Python data, with thresholds from the alerts' thresholds file."""
