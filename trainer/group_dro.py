"""A worst-origin objective for ``--group-dro``: online group DRO (Sagawa et al., ICLR 2020).

Why: the product is judged on dermatoscopes it never saw, and #26 asks whether a loss that
leans on the origin the network currently fits worst reads an unseen one better than the plain
pooled loss (or ``--origin-balance``'s fixed, equal weights). Each step keeps a weight per origin
(``q``, summing to 1), multiplies it by ``exp(step * that origin's mean loss in the batch)`` and
renormalises: an origin the network keeps fitting worse gains weight, step by step. The loss
is then the ``q``-weighted mean of the origins' losses.

Augmentor's copies (origin "") are no origin: they keep their share of the batch, and the
origins share the rest by ``q``. ``q`` starts uniform and is not saved with the checkpoints: a
resumed run starts it uniform again (the log gives it at every epoch's end).
"""

from __future__ import annotations

import numpy as np


def group_ids(origins: tuple[str, ...] | list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each row's origin as an index into the sorted named origins; -1 for Augmentor's copies."""
    names = tuple(sorted({o for o in origins if o}))
    index = {o: i for i, o in enumerate(names)}
    return np.array([index.get(o, -1) for o in origins], dtype=np.int32), names


class GroupDRO:
    """The origins' weights and the loss they make; used inside a Keras train step."""

    def __init__(self, names: tuple[str, ...], step: float):
        import tensorflow as tf

        if not names or step <= 0:
            raise ValueError("group DRO needs at least one origin and a step above 0")
        self.names = names
        self.step = float(step)
        self.q = tf.Variable(tf.fill([len(names)], 1.0 / len(names)), trainable=False)

    def loss(self, per_row, weight, group):
        """The batch's loss from each row's (class-weighted) loss ``per_row * weight``; moves
        ``q`` towards the origins whose mean loss in this batch is highest."""
        import tensorflow as tf

        named = group >= 0
        member = (
            tf.one_hot(tf.where(named, group, 0), len(self.names))
            * tf.cast(named, tf.float32)[:, None]
        )
        totals = tf.reduce_sum(member * weight[:, None], 0)
        present = totals > 0
        means = tf.math.divide_no_nan(
            tf.reduce_sum(member * (weight * per_row)[:, None], 0), totals
        )
        q = self.q * tf.exp(self.step * tf.stop_gradient(means))
        self.q.assign(q / tf.reduce_sum(q))
        # Over the origins in this batch, so that an absent origin's weight does not shrink it.
        here = tf.where(present, self.q, 0.0)
        origins_loss = tf.reduce_sum(tf.math.divide_no_nan(here, tf.reduce_sum(here)) * means)
        copies = ~named
        copies_loss = tf.math.divide_no_nan(
            tf.reduce_sum(tf.where(copies, weight * per_row, 0.0)),
            tf.reduce_sum(tf.where(copies, weight, 0.0)),
        )
        share = tf.reduce_mean(tf.cast(copies, tf.float32))
        return share * copies_loss + (1.0 - share) * origins_loss

    def weights_text(self) -> str:
        """``q`` by origin, for the log."""
        return ", ".join(f"{n} {v:.2f}" for n, v in zip(self.names, self.q.numpy(), strict=True))

    def log_callback(self, log):
        """A Keras callback that puts ``q`` into each epoch's logs (``group_dro <origin>``: the
        run's state file keeps them in its history when this runs before the checkpoint) and
        logs it."""
        import keras

        dro = self

        class _Weights(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                if logs is not None:
                    logs.update(
                        {
                            f"group_dro {n}": float(v)
                            for n, v in zip(dro.names, dro.q.numpy(), strict=True)
                        }
                    )
                log(f"epoch {epoch + 1}: group DRO weights {dro.weights_text()}")

        return _Weights()
