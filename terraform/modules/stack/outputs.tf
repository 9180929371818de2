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

output "alerts" {
  description = "Entry points of the alerts to SFTP pipeline."
  value = {
    alb_name           = module.alerts.alb_name
    trigger_url        = module.alerts.trigger_url
    staging_bucket     = module.alerts.staging_bucket
    queue_url          = module.alerts.queue_url
    dlq_url            = module.alerts.dlq_url
    functions          = module.alerts.functions
    finalizer_schedule = module.alerts.finalizer_schedule
  }
}
