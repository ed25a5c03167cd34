"""Simulated Shopify stores and Meta ad accounts, served over real HTTP for the demo, tests and benchmarks."""
