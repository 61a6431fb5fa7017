"""Embeddings pipeline: readmes by tag → chunks → sentence-transformers on Ray Data → PostgreSQL + pgvector."""
