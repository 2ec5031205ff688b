"""Embeddings, the per-business vector index, and search."""
