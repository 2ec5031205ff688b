"""Detect, mask and restore personal data; the vault of originals; the redaction log."""
