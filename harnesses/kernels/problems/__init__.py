"""Built-in problems in KernelBench's format: one file per problem with `Model`, `get_inputs()`, `get_init_inputs()`.

These files are loaded by path (see harnesses.kernels.problem), never imported as a package; the package marker is
only here so that an installed alphalab ships them. Each also sets `SMALL_SIZES`, the module constants to use in CPU
mode, so the tests run in seconds.
"""
