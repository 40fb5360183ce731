"""A dense reward the random-weight tiny model can learn within a few hundred CPU steps (used by the learning test).

The fraction of characters in a completion that are digits: random initial policies score about 0.02, and any
sign, weight or advantage bug in the GRPO path keeps it from rising.
"""


def digit_fraction(completions, **kwargs):
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]


def explode(completions, trainer_state=None, **kwargs):
    """A reward that crashes once training is under way (it passes the test call before training, at step 0): the
    run must still leave a summary.json saying how it ended."""
    if trainer_state.global_step >= 1:
        raise RuntimeError("reward exploded on purpose")
    return [0.0 for _ in completions]
