"""``bihuan bench``: the benchmark suite (see bench/README.md and docs/performance.md)."""
