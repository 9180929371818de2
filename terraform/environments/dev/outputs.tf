# The outputs of every AWS root: staging/outputs.tf and prod/outputs.tf are links to this file, so
# the three environments cannot drift apart (only main.tf, the backend and the tfvars differ).

output "region" {
  description = "Region the stack was deployed to."
  value       = var.region
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = module.stack.alarm_topic_arn
}

output "example" {
  description = "Entry points of the example pipeline."
  value       = module.stack.example
}

output "alerts_to_sftp" {
  description = "Entry points of the alerts pipeline (trigger URL, queues, bucket, functions)."
  value       = module.stack.alerts_to_sftp
}

output "ndjson_to_parquet" {
  description = "Entry points of the NDJSON to Parquet pipeline (landing bucket, output bucket, state machine, topic, ...)."
  value       = module.stack.ndjson_to_parquet
}

output "csv_to_api" {
  description = "Entry points of the CSV to API pipeline (upload and results buckets, tables, state machine, DLQs); null when not configured."
  value       = module.stack.csv_to_api
}
