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


# --- rewards that induce each guardrail's failure in a real tiny run (tests/test_guardrails.py) ---


def _texts(completions):
    return [c[-1]["content"] if isinstance(c, list) else c for c in completions]


def constant(completions, **kwargs):
    """The same reward for every completion: no group has an advantage (no_signal)."""
    return [0.5 for _ in completions]


def constant_from_step_6(completions, trainer_state=None, **kwargs):
    """digit_fraction until step 6, then constant: the learning signal vanishes part-way (no_signal, rollback)."""
    return digit_fraction(completions) if trainer_state.global_step < 6 else constant(completions)


def length_fraction(completions, completion_ids=None, trainer_state=None, **kwargs):
    """Pays for length: the policy learns to never stop (length_blowup)."""
    return [len(ids) / 192 for ids in completion_ids]


def first_token_share(completions, completion_ids=None, **kwargs):
    """The share of a completion's tokens equal to its first: pays for repeating one token (entropy_collapse)."""
    return [sum(token == ids[0] for token in ids) / len(ids) if ids else 0.0 for ids in completion_ids]


def foreign_letters(completions, **kwargs):
    """Pays for letters outside the Latin script (language_drift)."""
    from openrs.rewards.language import LANGUAGE_SCRIPTS, foreign_fraction

    return [foreign_fraction(text, LANGUAGE_SCRIPTS["en"]) for text in _texts(completions)]


def non_digit_fraction(completions, **kwargs):
    """1 - digit_fraction: high at the start, falls as digit_fraction is learned (a stand-in validation accuracy
    for reward_hacking)."""
    return [1.0 - value for value in digit_fraction(completions)]


def non_ascii_share(completions, **kwargs):
    """The share of a completion's characters outside ASCII (byte tokens that decode to no character count too):
    pays for the byte sequences that spell non-Latin letters (language_drift)."""
    return [sum(ord(ch) > 127 for ch in text) / max(len(text), 1) for text in _texts(completions)]
