"""Benchmarks of token-refresher against LocalStack (`make bench`); see bench/README.md."""
