"""The memory plan of a run per GPU (weights, reference, gradients, optimizer states, activations, log-prob buffers,
vLLM's share), estimated before launch from the model's shape, judged against the GPU type, with the cheapest changes
that make a run fit (docs/MEMORY.md). Printed by the pre-flight and in the dry run's JSON (openrs.memory.report)."""
