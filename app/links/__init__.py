"""Tracked links: each recipient's own short link to an allowed destination, and clicks."""
