"""openrs: cheap, honest GRPO for small math-reasoning models (Hydra over TRL, vLLM, math-verify, PEFT, W&B)."""

__version__ = "0.1.0"
