"""Recordings opened in this session (by napari readers or samples), so the SPARKS docks can find them.

Weak references only: closing the layers frees the data.
"""

from __future__ import annotations

import weakref

_RECORDINGS: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


def register(rec) -> str:
    """Remember ``rec`` under a unique name (its ``name``, then ``name (2)``...); returns that name."""
    for key, value in list(_RECORDINGS.items()):
        if value is rec:
            return key
    key, i = rec.name, 2
    while key in _RECORDINGS:
        key, i = f"{rec.name} ({i})", i + 1
    _RECORDINGS[key] = rec
    return key


def recordings() -> dict[str, object]:
    """Name -> Recording for every registered recording still alive."""
    return dict(_RECORDINGS.items())
