"""Network sizes that share compiled kernels between tests.

A compiled rollout (``tasks.rollout``) is compiled once per block of neurons updated
together (``block_size``), about 10 s each on a fresh clone. NEAT's first networks have
only their outputs, which gives a block of 4; a test that needs some fixed-topology network
takes the hidden layer that makes N a multiple of 4, and so reuses that kernel.
"""


def shared_hidden(n_outputs: int) -> int:
    """Hidden neurons that make ``n_outputs + hidden`` a multiple of 4 (at least 1)."""
    return -n_outputs % 4 or 4
