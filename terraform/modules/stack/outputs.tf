output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = module.alarm_topic.arn
}

output "example" {
  description = "Entry points of the example pipeline (the outputs of modules/example)."
  value       = module.example
}

# The pipelines' own outputs, whole: a new output of a pipeline module is an entry point here too.
output "alerts_to_sftp" {
  description = "Entry points of the alerts to SFTP pipeline (the outputs of modules/alerts_to_sftp)."
  value       = module.alerts_to_sftp
}

output "ndjson_to_parquet" {
  description = "Entry points of the NDJSON to Parquet pipeline (the outputs of modules/ndjson_to_parquet; null when disabled)."
  value       = one(module.ndjson_to_parquet)
}

output "csv_to_api" {
  description = "Entry points of the CSV to API pipeline (the outputs of modules/csv_to_api; null when not configured)."
  value       = one(module.csv_to_api)
}
