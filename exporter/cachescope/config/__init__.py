"""What the exporter is told: the config file, flags, targets and allow rules."""
