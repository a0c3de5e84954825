"""Recordings opened in this session (by napari readers or samples), so the SPARKS docks can find them.

Weak references only: closing the layers frees the data.
"""

from __future__ import annotations

import weakref

_RECORDINGS: weakref.WeakValueDictionary[str, object] = weakref.WeakValueDictionary()


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


# results of a recording, for writers that only see the recording (napari's Save with the SPARKS NWB writer)
_RESULTS: dict[int, tuple[weakref.ref, object]] = {}


def set_results_provider(rec, provider) -> None:
    """Say where the SPARKS results of ``rec`` come from: ``provider()`` returns the keyword arguments of
    :func:`sparks_gui.data.export.export_to_nwb` (latents, order, config …), or None while there are none.
    The GUI session registers one per recording it shows; the entry goes when ``rec`` is freed."""
    key = id(rec)
    for k, (ref, _p) in list(_RESULTS.items()):  # drop entries of freed recordings
        if ref() is None:
            _RESULTS.pop(k, None)
    _RESULTS[key] = (weakref.ref(rec), provider)


def results_for(rec) -> dict | None:
    """The results registered for ``rec`` (see :func:`set_results_provider`), or None."""
    entry = _RESULTS.get(id(rec))
    if entry is None or entry[0]() is not rec:
        return None
    return entry[1]()
