"""Shared fixtures: the real model and real FAISS, loaded once per session."""

from __future__ import annotations

import faiss  # noqa: F401 - must be imported before torch (their OpenMP runtimes clash otherwise)
