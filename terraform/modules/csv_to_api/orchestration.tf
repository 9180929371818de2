# The file state machine (file.asl.json): plan -> staggered Map of csv-api-caller -> report.

locals {
  # The backstop for an execution that never ends: every chunk's retries, twice over, and a day.
  file_timeout_seconds = 86400 + var.max_chunks * var.caller.timeout * 2
}

resource "aws_sfn_state_machine" "file" {
  #checkov:skip=CKV_AWS_285:A Standard workflow keeps each execution's full history for 90 days; vended logs would need account-wide logs:*Delivery permissions (README, "Not here, on purpose").
  #checkov:skip=CKV_AWS_284:ministack 1.5.33 returns no tracingConfiguration, so enabling it would show drift on every re-plan of the local stack; the functions it calls are traced and the execution history times each state.
  name     = local.names.state_machine
  type     = "STANDARD"
  role_arn = aws_iam_role.file_sfn.arn

  definition = templatefile("${path.module}/file.asl.json", {
    planner_arn         = module.planner.function_arn
    caller_arn          = module.caller.function_arn
    caller_dlq_url      = aws_sqs_queue.caller_dlq.url
    max_concurrency     = var.max_concurrency
    retry_seconds       = var.retry_seconds
    chunk_retry_seconds = var.chunk_retry_seconds
    chunk_max_attempts  = var.chunk_max_attempts
    unknown_attempts    = var.unknown_error_attempts
    timeout_seconds     = local.file_timeout_seconds
  })

  tags       = var.tags
  depends_on = [aws_iam_role_policy.file_sfn]
}
