resource "aws_scheduler_schedule" "finalizer" {
  #checkov:skip=CKV_AWS_297:The schedule carries no input at all; Scheduler encrypts its definition with an AWS owned key.
  name                = "${local.prefix}-finalizer-${var.environment}"
  schedule_expression = var.finalizer_schedule

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.finalizer.function_arn
    role_arn = aws_iam_role.scheduler.arn

    retry_policy {
      maximum_retry_attempts = 0 # the next run comes soon enough
    }
  }
}
