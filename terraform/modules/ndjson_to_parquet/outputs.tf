output "input_bucket" {
  description = "Landing bucket: drop NDJSON files under landing/ndjson/YYYY-MM-DD/."
  value       = aws_s3_bucket.this["input"].id
}

output "landing_prefix" {
  description = "Key prefix whose .ndjson/.jsonl objects enter the pipeline."
  value       = local.names.landing_prefix
}

output "output_bucket" {
  description = "Parquet output bucket (pipeline/output/merged-parquet-YYYY-MM-DD/)."
  value       = aws_s3_bucket.this["output"].id
}

output "manifest_bucket" {
  description = "Manifests (manifests/YYYY-MM-DD/) and run logs (logs/)."
  value       = aws_s3_bucket.this["manifest"].id
}

output "quarantine_bucket" {
  description = "Invalid files and their reason JSON (quarantine/YYYY-MM-DD/)."
  value       = aws_s3_bucket.this["quarantine"].id
}

output "scripts_bucket" {
  description = "Glue scripts and the converter package."
  value       = aws_s3_bucket.this["scripts"].id
}

output "tracking_table" {
  description = "File and MANIFEST tracking table."
  value       = aws_dynamodb_table.tracking.name
}

output "metrics_table" {
  description = "Circuit breaker table."
  value       = aws_dynamodb_table.metrics.name
}

output "state_machine_arn" {
  description = "Processor state machine (one execution per manifest)."
  value       = aws_sfn_state_machine.processor.arn
}

output "alerts_topic_arn" {
  description = "SNS topic of failure alerts and the pipeline's alarms."
  value       = aws_sns_topic.alerts.arn
}

output "queue_url" {
  description = "File-events queue feeding manifest-builder."
  value       = module.builder.queue_url
}

output "dlq_url" {
  description = "Dead-letter queue of the file-events queue."
  value       = module.builder.dlq_url
}

output "event_bus_name" {
  description = "EventBridge bus of ManifestReady events."
  value       = aws_cloudwatch_event_bus.etl.name
}

output "glue_jobs" {
  description = "Glue job names: Python shell (batch) and Spark."
  value = {
    batch = aws_glue_job.batch.name
    spark = aws_glue_job.spark.name
  }
}

output "functions" {
  description = "Function names (stream_creator is null unless stream_manifests_enabled)."
  value = {
    manifest_builder = module.builder.function_name
    status_updater   = module.status_updater.function_name
    stream_creator   = try(module.stream_creator[0].function_name, null)
  }
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "flush_schedule" {
  description = "Scheduler schedule invoking the orphan flush."
  value       = aws_scheduler_schedule.flush.name
}
