"""minertrace.recorder: trace the weights of a validator that keeps its own loop.

``Recorder.record_cycle(...)`` with what the validator computed, ``Recorder.record_submission``
with what it sent; see ``docs/recorder.md``.
"""

from minertrace.recorder.build import weight_vector
from minertrace.recorder.recorder import CycleHandle, Recorder, RecorderMetrics

__all__ = ["CycleHandle", "Recorder", "RecorderMetrics", "weight_vector"]
