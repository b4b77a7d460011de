"""The agent of the seed paper (sec. 3, fig. 2): intrinsic cost and critic, short-term memory, Mode-2 planners."""
