"""The layers beneath ``peps_common``: see README, "How the code is laid out"."""
