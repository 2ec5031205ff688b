"""The faces of Wepos: the HTTP app (webhooks, health) and the `wepos` command line."""
