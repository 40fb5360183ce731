"""The backward pass's peak memory against the memory plan's activation estimate, measured on CPU (issue 15).

A later micro-batch of a gradient accumulation (its gradients already exist) runs through the decoder layers of a
small random Qwen2 model in bf16 under autocast, with and without gradient checkpointing. torch's memory profiler
gives the most bytes held at once above what existed before; the estimate is openrs.memory.activations'
`training_activations(...).total`. Run: `python benchmarks/memory_peak.py` (CPU, about a minute);
tests/test_memory_activations.py asserts the same band. Recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import torch

#: (layers, hidden, intermediate): the shapes measured.
SHAPES = ((4, 256, 704), (8, 512, 1408))
BATCH, SEQ = 4, 256


def peak_bytes(step) -> int:
    """The most bytes `step` held at once above what existed before it, from torch's memory profiler: each op's own
    allocations count at its start, its own frees at its end, and frees outside any op when they happen."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        step()
    timeline = []
    for event in profiler.events():
        usage = event.cpu_memory_usage if event.name == "[memory]" else event.self_cpu_memory_usage
        if usage:
            timeline.append((event.time_range.start if usage > 0 else event.time_range.end, usage))
    live = top = 0
    for _, usage in sorted(timeline, key=lambda moment: (moment[0], -moment[1])):
        live += usage
        top = max(top, live)
    return top


def measure(layers: int, hidden: int, intermediate: int, checkpointing: bool) -> tuple[int, int, int]:
    """(measured peak, estimate, one layer's kept bytes) of a bf16 micro-batch of BATCH x SEQ tokens."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from openrs.memory.activations import layer_bytes, training_activations
    from openrs.memory.shape import ModelShape

    config = {"model_type": "qwen2", "vocab_size": 64, "hidden_size": hidden, "num_attention_heads": 8,
              "num_key_value_heads": 2, "intermediate_size": intermediate, "num_hidden_layers": layers}  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.bfloat16)
    if checkpointing:
        model.gradient_checkpointing_enable({"use_reentrant": False})
    model.train()
    ids = torch.randint(0, 64, (BATCH, SEQ))

    def micro_batch() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hidden_states = model.model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        hidden_states.float().pow(2).sum().backward()

    micro_batch()  # the gradients now exist, as in every micro-batch after an accumulation's first
    measured = peak_bytes(micro_batch)
    shape = ModelShape.from_config(config)
    estimate = training_activations(shape, tokens=BATCH * SEQ, seq_len=SEQ, d=2, attention="sdpa",
                                    checkpointing=checkpointing).total  # fmt: skip
    return measured, estimate, layer_bytes(shape, 2, "sdpa", SEQ) * BATCH * SEQ


def main() -> int:
    torch.set_num_threads(1)
    print(
        "| layers x hidden x intermediate | checkpointing | measured peak (MiB) | estimate (MiB) | estimate/measured |"
    )
    print("|---|---|---|---|---|")
    for layers, hidden, intermediate in SHAPES:
        for checkpointing in (False, True):
            measured, estimate, _ = measure(layers, hidden, intermediate, checkpointing)
            print(f"| {layers} x {hidden} x {intermediate} | {checkpointing} | {measured / 2**20:.1f} | "
                  f"{estimate / 2**20:.1f} | {estimate / measured:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
