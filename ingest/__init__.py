"""Ingestion: the job queue, the runner, and (in later stages) the Shopify and Meta sources."""
