output "function_name" {
  description = "Name of the example worker function."
  value       = module.worker.function_name
}

output "queue_url" {
  description = "URL of the queue feeding the worker."
  value       = module.worker.queue_url
}

output "dlq_url" {
  description = "URL of the worker's dead-letter queue."
  value       = module.worker.dlq_url
}

output "tracking_table" {
  description = "Name of the DynamoDB tracking table."
  value       = aws_dynamodb_table.tracking.name
}
