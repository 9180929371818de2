output "arn" {
  description = "Topic ARN (alarm actions, Step Functions sns:publish)."
  value       = aws_sns_topic.this.arn
}

output "name" {
  description = "Topic name."
  value       = aws_sns_topic.this.name
}

output "key_arn" {
  description = "ARN of the topic's KMS key: publishers other than the services named in publisher_services need kms:GenerateDataKey* and kms:Decrypt on it in their IAM policy."
  value       = aws_kms_key.this.arn
}
