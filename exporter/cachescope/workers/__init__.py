"""Scrape worker processes: the pool in the main process, the worker, their frames."""
