output "alb_name" {
  description = "Name of the trigger ALB (the local stack routes /_alb/<name>/jobs to it)."
  value       = aws_lb.trigger.name
}

output "trigger_url" {
  description = "POST here with the X-Alerts-Trigger-Secret header to start or re-trigger a job."
  value       = "${var.network.certificate_arn == null ? "http" : "https"}://${aws_lb.trigger.dns_name}/jobs"
}

output "staging_bucket" {
  description = "Bucket of staged alert JSON."
  value       = aws_s3_bucket.staging.id
}

output "queue_url" {
  description = "Queue of alert pointers feeding sftp-worker."
  value       = module.worker.queue_url
}

output "dlq_url" {
  description = "Dead-letter queue of sftp-worker."
  value       = module.worker.dlq_url
}

output "functions" {
  description = "Function names of the pipeline."
  value = {
    coordinator = module.coordinator.function_name
    worker      = module.worker.function_name
    finalizer   = module.finalizer.function_name
    migrate     = module.migrate.function_name
  }
}

output "finalizer_schedule" {
  description = "Name of the finalizer's schedule."
  value       = aws_scheduler_schedule.finalizer.name
}
