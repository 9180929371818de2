output "endpoint" {
  description = "AWS_ENDPOINT_URL of the local stack."
  value       = var.endpoint
}

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
  description = "Entry points of the alerts pipeline; trigger_url is the emulator's route to the ALB."
  value = merge(module.stack.alerts_to_sftp, {
    trigger_url = "${var.endpoint}/_alb/${module.stack.alerts_to_sftp.alb_name}/jobs"
  })
}

output "ndjson_to_parquet" {
  description = "Entry points of the NDJSON to Parquet pipeline (buckets, tables, state machine, topic, queues, jobs, functions)."
  value       = module.stack.ndjson_to_parquet
}

output "csv_to_api" {
  description = "Entry points of the CSV to API pipeline, and the fake records API it calls here."
  value       = merge(module.stack.csv_to_api, { records_api_url = var.records_api_url })
}
