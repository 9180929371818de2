output "upload_bucket" {
  description = "Where partners drop CSV files: s3://<upload_bucket>/<incoming_prefix>...csv starts a file."
  value       = module.bucket["upload"].id
}

output "incoming_prefix" {
  description = "Key prefix that starts a file."
  value       = var.incoming_prefix
}

output "results_bucket" {
  description = "Reports: reports/<file_id>.json and reports/<file_id>.rejects.csv."
  value       = module.bucket["results"].id
}

output "file_table" {
  description = "DynamoDB table of file status and chunk summaries (key file_id, part)."
  value       = aws_dynamodb_table.files.name
}

output "rows_table" {
  description = "DynamoDB table of row outcomes (key file_id, row)."
  value       = aws_dynamodb_table.rows.name
}

output "limiter_table" {
  description = "DynamoDB table of the shared rate limiter's per-second counters."
  value       = aws_dynamodb_table.limiter.name
}

output "state_machine_arn" {
  description = "The file state machine (one execution per object version, named after its file id)."
  value       = aws_sfn_state_machine.file.arn
}

output "ingest_queue_url" {
  description = "The ingest queue (EventBridge -> here -> csv-ingest-starter)."
  value       = module.starter.queue_url
}

output "dead_letter_queues" {
  description = "The dead-letter queues and where a redrive sends their messages (lp dlq); log_forwarder is null without Splunk."
  value = {
    ingest = { dlq_url = module.starter.dlq_url, source_url = module.starter.queue_url }
    caller = { dlq_url = aws_sqs_queue.caller_dlq.url, function_name = module.caller.function_name }
    log_forwarder = local.splunk_enabled ? {
      dlq_url = aws_sqs_queue.forwarder_dlq[0].url, function_name = module.log_forwarder[0].function_name
    } : null
  }
}

output "alarm_topic_arn" {
  description = "The pipeline's alarm topic (the alert manager e-mails from it)."
  value       = module.alarm_topic.arn
}

output "feeds_parameter" {
  description = "SSM parameter holding the feeds document."
  value       = aws_ssm_parameter.feeds.name
}

output "rate_limit" {
  description = "Requests per second the callers share."
  value       = var.rate_limit
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "alarm_names" {
  description = "Every alarm of the pipeline."
  value = concat(
    [for alarm in aws_cloudwatch_metric_alarm.metric : alarm.alarm_name],
    [aws_cloudwatch_metric_alarm.reject_rate.alarm_name],
    module.starter.alarm_names, module.planner.alarm_names, module.caller.alarm_names,
    flatten(module.log_forwarder[*].alarm_names),
  )
}

output "functions" {
  description = "Function names."
  value = {
    starter       = module.starter.function_name
    planner       = module.planner.function_name
    caller        = module.caller.function_name
    dlq_processor = module.dlq_processor.function_name
    alert_manager = module.alert_manager.function_name
    log_forwarder = try(module.log_forwarder[0].function_name, null)
  }
}

output "log_groups" {
  description = "Log groups of the functions (forwarded to Splunk when hec_secret_arn is set)."
  value       = local.forwarded_log_groups
}
