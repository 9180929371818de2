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

output "alerts" {
  description = "Entry points of the alerts pipeline; trigger_url is the emulator's route to the ALB."
  value = merge(module.stack.alerts, {
    trigger_url = "${var.endpoint}/_alb/${module.stack.alerts.alb_name}/jobs"
  })
}

output "ndjson_parquet" {
  description = "Entry points of the NDJSON to Parquet pipeline (buckets, tables, state machine, topic, queues, jobs, functions)."
  value       = module.stack.ndjson_parquet
}
