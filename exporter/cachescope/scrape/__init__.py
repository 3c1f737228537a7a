"""Scraping targets: the fleet, each target's state, discovery, the exposition."""
