"""Evaluation: named protocols (`protocols`) and the loop that runs an agent on their episodes
(`evaluate`).

It sits below the agents (it imports envs and wrappers only, and drives any object of the
`evaluate.BatchedAgent` shape), so a trainer may evaluate the agent it trains, as `cola-rl` does.
The bench, result tables and the Ray backend, which load agents by reference, are in
`textgym.baselines`.
"""
