"""Run storage behind a small interface (RUNTIME §8). Only the in-memory store exists so far."""

from runtime.store.base import Store
from runtime.store.memory import MemoryStore

__all__ = ["Store", "MemoryStore"]
