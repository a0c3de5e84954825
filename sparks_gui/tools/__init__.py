"""Developer tools behind ``sparks-gui validate`` and ``sparks-gui bench`` (not part of the public API).

* :mod:`.validate` - every synthetic ground-truth set through SPARKS and the baselines, a report.
* :mod:`.validate_mtm` - masked modelling (MtM) rows of that report.
* :mod:`.validate_real` - ``validate --real``: SPARKS defaults against baselines on real recordings.
* :mod:`.bench` - training-throughput and memory benchmarks (JSON lines).
"""
