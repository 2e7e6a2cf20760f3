"""Real servers the tests talk to (push service, TLS authority)."""
