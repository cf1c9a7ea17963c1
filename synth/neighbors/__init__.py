"""Mixed-type encoding of tables and exact nearest-neighbour search, shared by audits
(distances to closest records, attacks) and generators (copy guards, density weights)."""

from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.proximity import frame_rows_within, rows_within
from synth.neighbors.search import nearest, nearest_distance, nearest_other

__all__ = ["MixedEncoder", "frame_rows_within", "nearest", "nearest_distance", "nearest_other", "rows_within"]
