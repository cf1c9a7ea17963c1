"""Where the heavy numerics run: in this process (``local``) or as tasks on a Ray cluster (``ray``).

The shared numerics (exact nearest-neighbour search, bootstrap replicates, anonymeter's
attacks, shadow-model retraining) cut their work into independent shards and hand them to
the *active* engine (:func:`active_engine`), which the pipeline sets for the length of a
run (:func:`use_engine`). Each shard's result depends only on its own inputs, so the
engines give identical results; they differ only in where the shards run.
"""

from synth.execution.active import active_engine, use_engine
from synth.execution.engine import Engine, Shard
from synth.execution.local import LocalEngine
from synth.execution.select import open_engine

__all__ = ["Engine", "LocalEngine", "Shard", "active_engine", "open_engine", "use_engine"]
