"""Webhook parsers, one module per platform: verify a signature, name the delivery, parse
the body into core.inbound messages. Pure functions of (headers, body, settings)."""
