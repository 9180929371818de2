# The pipelines' module calls were renamed to the pipelines' names (issue 8); these keep existing
# deployments' resources where they are instead of destroying and re-creating them.
moved {
  from = module.alerts
  to   = module.alerts_to_sftp
}

moved {
  from = module.ndjson_parquet
  to   = module.ndjson_to_parquet
}
