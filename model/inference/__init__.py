"""Exact inference on the compiled network: the evidence factors, the batch engine and its
factored path and its closed form for separable conditions, parameter draws, the per-draw engines
and the case variants."""
