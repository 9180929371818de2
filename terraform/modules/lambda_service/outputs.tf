output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (for Step Functions tasks, schedulers, ALB targets)."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "Invoke ARN, for API Gateway integrations."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the execution role, to attach further policies."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "queue_url" {
  description = "URL of the source queue, or null without sqs_source."
  value       = try(aws_sqs_queue.this[0].id, null)
}

output "queue_arn" {
  description = "ARN of the source queue, or null without sqs_source."
  value       = try(aws_sqs_queue.this[0].arn, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue, or null without sqs_source."
  value       = try(aws_sqs_queue.dlq[0].id, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue, or null without sqs_source."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms the module created."
  value       = concat([aws_cloudwatch_metric_alarm.errors.alarm_name], aws_cloudwatch_metric_alarm.dlq_depth[*].alarm_name)
}
