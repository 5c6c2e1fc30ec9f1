"""crossrec package."""
