"""The ``tf.distribute`` strategy a run trains under (``--strategy``)."""

from __future__ import annotations


def get_strategy(name: str):
    """The strategy ``--strategy`` names; the default one keeps one code path for one device."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return _reduce_per_element(tf.distribute.MultiWorkerMirroredStrategy())
    return tf.distribute.get_strategy()  # the default (one device) strategy, same code path


def _reduce_per_element(strategy):
    """Keras 3 fit() under MultiWorkerMirroredStrategy (keras-team/keras#20585) calls
    strategy.reduce on a whole (x, y, sample_weight) tuple, and with axis=0 on scalar metrics;
    CollectiveAllReduce handles neither. Reduce each tensor on its own, scalars over no axis."""
    import tensorflow as tf

    reduce = strategy.reduce

    def one(op, value, axis):
        local = value.values[0] if isinstance(value, tf.distribute.DistributedValues) else value
        rank = getattr(getattr(local, "shape", None), "rank", None)
        return reduce(op, value, axis if rank else None)

    strategy.reduce = lambda op, value, axis=None: tf.nest.map_structure(
        lambda v: one(op, v, axis), value
    )
    return strategy
