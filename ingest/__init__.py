"""Documents in: load -> split -> mask -> embed -> index."""
