"""How the compiled kernels split their work: shared by the scalar and the vector kernel."""

BLOCK_ELEMENTS = 512  # a block of rows (p, b) of about this many neurons advances together
