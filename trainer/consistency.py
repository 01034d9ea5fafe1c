"""AugMix's consistency term for ``--consistency``: a train step that asks two augmented copies
of each image for the same answer. :func:`trainer.train.train_dataset` makes the pairs."""

from __future__ import annotations


def consistency_step(model, weight: float, dro=None):
    """A Keras train step for pairs of copies (AugMix's consistency, Hendrycks et al. 2020).

    The loss is the mean cross-entropy of the two copies plus ``weight`` times the
    Jensen-Shannon divergence between their predicted distributions: the network is asked to
    give a re-taken image the same answer, not only each copy the right one. Set on the
    instance (not a subclass), so that checkpoints load as the plain model they are; the
    in-model augmentation draws a new geometry and colour for each copy.

    With ``dro`` (a :class:`trainer.group_dro.GroupDRO`) the inputs are ``(images, origin
    index)`` and the cross-entropy is its worst-origin loss of the rows' mean over the copies;
    at ``weight`` 0 the images may be single (no pairs), for group DRO alone.
    """
    import tensorflow as tf

    def log(p):
        return tf.math.log(tf.clip_by_value(p, 1e-7, 1.0))

    def js(pa, pb):
        m = (pa + pb) / 2.0
        kl_a = tf.reduce_sum(pa * (log(pa) - log(m)), -1)
        kl_b = tf.reduce_sum(pb * (log(pb) - log(m)), -1)
        return tf.reduce_mean((kl_a + kl_b) / 2.0)

    def loss_tracker():
        # Keras's own running mean of the loss ("loss" in the logs and the history), through the
        # public ``metrics`` list: built at compile time, so looked up on the first step.
        return next(m for m in model.metrics if m.name == "loss")

    def train_step(data):
        x, y, sample_weight = (tuple(data) + (None, None))[:3]
        group = None
        if dro is not None:
            x, group = x
        paired = x.shape.rank == len(model.input_shape) + 1  # pairs of copies, or single images
        with tf.GradientTape() as tape:
            la = model(x[:, 0] if paired else x, training=True)
            lb = model(x[:, 1], training=True) if paired else la
            if dro is None:
                ce = [
                    model.compute_loss(
                        x=x, y=y, y_pred=lo, sample_weight=sample_weight, training=True
                    )
                    for lo in (la, lb)
                ]
                loss = (ce[0] + ce[1]) / 2.0
            else:
                rows = (model.loss.call(y, la) + model.loss.call(y, lb)) / 2.0
                w = tf.ones_like(rows) if sample_weight is None else sample_weight
                loss = dro.loss(rows, tf.cast(w, rows.dtype), group) + sum(model.losses)
            if paired:
                loss += weight * js(tf.nn.softmax(la), tf.nn.softmax(lb))
        grads = tape.gradient(loss, model.trainable_weights)
        model.optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        loss_tracker().update_state(loss, sample_weight=tf.shape(y)[0])
        return model.compute_metrics(x, y, la, sample_weight=sample_weight)

    return train_step
