output "input_bucket" {
  description = "Landing bucket: drop NDJSON files under landing/ndjson/YYYY-MM-DD/."
  value       = module.bucket["input"].id
}

output "landing_prefix" {
  description = "Key prefix whose .ndjson/.jsonl objects enter the pipeline."
  value       = local.names.landing_prefix
}

output "output_bucket" {
  description = "Parquet output bucket (pipeline/output/merged-parquet-YYYY-MM-DD/)."
  value       = module.bucket["output"].id
}

output "manifest_bucket" {
  description = "Manifests (manifests/YYYY-MM-DD/) and run logs (logs/)."
  value       = module.bucket["manifest"].id
}

output "quarantine_bucket" {
  description = "Invalid files and their reason JSON (quarantine/YYYY-MM-DD/)."
  value       = module.bucket["quarantine"].id
}

output "scripts_bucket" {
  description = "Glue scripts and the converter package."
  value       = module.bucket["scripts"].id
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
  value       = module.alerts_topic.arn
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

output "settings" {
  description = "The pipeline's settings as deployed, each default applied (the variables a root may set)."
  value = {
    glue_artifact_dir             = var.glue_artifact_dir
    log_retention_days            = var.log_retention_days
    force_destroy                 = var.force_destroy
    point_in_time_recovery        = var.point_in_time_recovery
    table_deletion_protection     = var.table_deletion_protection
    expiration_days               = var.expiration_days
    alert_email                   = var.alert_email
    builder                       = var.builder
    status_updater                = var.status_updater
    max_files_per_manifest        = var.max_files_per_manifest
    max_bytes_per_manifest        = var.max_bytes_per_manifest
    orphan_after_seconds          = var.orphan_after_seconds
    max_file_bytes                = var.max_file_bytes
    spark_threshold_bytes         = var.spark_threshold_bytes
    breaker_failure_threshold     = var.breaker_failure_threshold
    breaker_window_seconds        = var.breaker_window_seconds
    flush_interval_minutes        = var.flush_interval_minutes
    stream_manifests_enabled      = var.stream_manifests_enabled
    eventbridge_enabled           = var.eventbridge_enabled
    glue_max_capacity             = var.glue_max_capacity
    glue_timeout_minutes          = var.glue_timeout_minutes
    spark_timeout_minutes         = var.spark_timeout_minutes
    spark_worker_type             = var.spark_worker_type
    spark_number_of_workers       = var.spark_number_of_workers
    glue_max_concurrent_runs      = var.glue_max_concurrent_runs
    pyarrow_requirement           = var.pyarrow_requirement
    glue_extra_arguments          = var.glue_extra_arguments
    glue_poll_seconds             = var.glue_poll_seconds
    concurrent_runs_retry_seconds = var.concurrent_runs_retry_seconds
    concurrent_runs_max_attempts  = var.concurrent_runs_max_attempts
    retry_interval_seconds        = var.retry_interval_seconds
  }
}
