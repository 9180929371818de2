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
