"""batch-status-updater: after a manifest's Glue job, move its files to completed or failed."""
