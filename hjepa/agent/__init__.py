"""The agent of the seed paper (sec. 3, fig. 2): intrinsic cost and critic, short-term memory, Mode-1 policy and
Mode-2 planners, configurator and landmark subgoals, and the loop that runs them (`agent.Agent`)."""
