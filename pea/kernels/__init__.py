"""numba kernels of the simulator, one module per concern (see docs/architecture.md)."""
