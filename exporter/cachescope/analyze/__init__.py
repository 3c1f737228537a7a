"""`cachescope analyze`: a cache health report from the same thresholds as the alerts."""
