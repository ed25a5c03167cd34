"""CSV uploads: marketplace orders and Shopify Payments payout transactions, loaded as batches.

formats (the column sets), reader (encoding, delimiter, rows with line numbers), receive (keep the file,
recognise a file seen before, queue its job), stage (COPY into staging, set-based checks), promote (into the
warehouse, replacing an earlier batch of the same period in one transaction), batches (the lifecycle and its
log), job (the sync_jobs handler), reconcile (orders against payouts).
"""
