"""Connecting a store by its platform's own authorisation flow (issue 14, point 3)."""
