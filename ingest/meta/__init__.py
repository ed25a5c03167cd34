"""Meta Marketing API ingestion: client, insights paging, warehouse load, connect, sync jobs."""
