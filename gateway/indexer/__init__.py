"""The chain indexer: follows the registered collections' (and badges') events into the database."""

from .indexer import Indexer, IndexerError, PollStats, ReorgTooDeep

__all__ = ["Indexer", "IndexerError", "PollStats", "ReorgTooDeep"]
