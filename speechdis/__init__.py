"""speechdis: disentangling speech into phonetic and speaker embeddings."""

__version__ = "0.1.0"
