"""Exact inference on ONE compiled network (``compiled.CompiledNetwork``: variables, states,
risk-factor distributions, condition tables and caused_by groups, evidence factors, with a draw
axis). Its readers: the batch engine (``engine``, with its factored path and its closed form for
separable conditions) and through it the case variants; the per-draw methods (``grouped_draws``,
``draw_engine``) behind intervals and sensitivity; the parameter draws (``draws``)."""
