output "alb_name" {
  description = "Name of the trigger ALB (the local stack routes /_alb/<name>/jobs to it)."
  value       = aws_lb.trigger.name
}

output "trigger_url" {
  description = "POST here with the X-Alerts-Trigger-Secret header to start or re-trigger a job: https://<network.trigger_hostname>/jobs, or http://<ALB DNS name>/jobs where allow_plaintext_trigger."
  value       = local.trigger_url
}

output "alb_dns_name" {
  description = "DNS name of the trigger ALB (point network.trigger_hostname at it when no route53_zone_id is given)."
  value       = aws_lb.trigger.dns_name
}

output "staging_bucket" {
  description = "Bucket of staged alert JSON."
  value       = module.staging_bucket.id
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

output "settings" {
  description = "The pipeline's settings as deployed, each default applied (the variables a root may set)."
  value = {
    staging                 = var.staging
    staging_expiration_days = var.staging_expiration_days
    api_url                 = var.api_url
    secrets                 = var.secrets
    sftp_remote_dir         = var.sftp_remote_dir
    network                 = var.network
    allow_plaintext_trigger = var.allow_plaintext_trigger
    worker                  = var.worker
    finalizer_schedule      = var.finalizer_schedule
    stuck_after_seconds     = var.stuck_after_seconds
  }
}
