"""alerts-migrate: apply the alerts schema's pending migrations (invoked by Terraform at deploy time)."""
