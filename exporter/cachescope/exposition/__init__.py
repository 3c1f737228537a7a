"""What a scrape becomes: metric families, the text format, a fleet's response."""
