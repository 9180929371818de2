output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "example" {
  description = "Entry points of the example pipeline."
  value = {
    function_name  = module.example.function_name
    queue_url      = module.example.queue_url
    dlq_url        = module.example.dlq_url
    tracking_table = module.example.tracking_table
  }
}

output "alerts_to_sftp" {
  description = "Entry points of the alerts to SFTP pipeline."
  value = {
    alb_name           = module.alerts_to_sftp.alb_name
    trigger_url        = module.alerts_to_sftp.trigger_url
    staging_bucket     = module.alerts_to_sftp.staging_bucket
    queue_url          = module.alerts_to_sftp.queue_url
    dlq_url            = module.alerts_to_sftp.dlq_url
    functions          = module.alerts_to_sftp.functions
    finalizer_schedule = module.alerts_to_sftp.finalizer_schedule
  }
}

output "ndjson_to_parquet" {
  description = "Entry points of the NDJSON to Parquet pipeline (null when disabled)."
  value = var.ndjson_to_parquet.enabled ? {
    input_bucket      = module.ndjson_to_parquet[0].input_bucket
    landing_prefix    = module.ndjson_to_parquet[0].landing_prefix
    output_bucket     = module.ndjson_to_parquet[0].output_bucket
    manifest_bucket   = module.ndjson_to_parquet[0].manifest_bucket
    quarantine_bucket = module.ndjson_to_parquet[0].quarantine_bucket
    scripts_bucket    = module.ndjson_to_parquet[0].scripts_bucket
    tracking_table    = module.ndjson_to_parquet[0].tracking_table
    metrics_table     = module.ndjson_to_parquet[0].metrics_table
    state_machine_arn = module.ndjson_to_parquet[0].state_machine_arn
    alerts_topic_arn  = module.ndjson_to_parquet[0].alerts_topic_arn
    queue_url         = module.ndjson_to_parquet[0].queue_url
    dlq_url           = module.ndjson_to_parquet[0].dlq_url
    event_bus_name    = module.ndjson_to_parquet[0].event_bus_name
    glue_jobs         = module.ndjson_to_parquet[0].glue_jobs
    functions         = module.ndjson_to_parquet[0].functions
    dashboard_name    = module.ndjson_to_parquet[0].dashboard_name
    flush_schedule    = module.ndjson_to_parquet[0].flush_schedule
  } : null
}
