"""The memory plan of a run per GPU (weights, gradients, optimizer states, activations, logits, vLLM's share),
estimated before launch from the model's shape (issue 15; being built: the model's shape and its parameter,
gradient and optimizer bytes so far)."""
