# The pipeline's alarms (the functions' error alarms come with modules/lambda_service). Each description
# is the runbook step the alert manager's e-mail carries; docs/csv_to_api.md#runbook has the same rows.

locals {
  # One alarm on one metric each. threshold is met or exceeded for `periods` 5-minute periods in a row.
  metric_alarms = {
    ingest_age = {
      description = "Files wait in the ingest queue: the starter is failing or throttled. Read its log group; lp csv files --status received."
      namespace   = "AWS/SQS", metric = "ApproximateAgeOfOldestMessage", statistic = "Maximum"
      dimensions  = { QueueName = local.names.ingest_queue }
      threshold   = var.alarm_thresholds.queue_age_seconds, periods = 1
    }
    ingest_depth = {
      description = "More files queued than the pipeline drains: check the starter's pollers (starter.maximum_concurrency) and failed executions."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
      dimensions  = { QueueName = local.names.ingest_queue }
      threshold   = var.alarm_thresholds.queue_depth, periods = 2
    }
    caller_dlq = {
      description = "Chunks gave up after their retries: lp dlq show csv_to_api/caller, fix the cause (API down, token), then lp dlq redrive csv_to_api/caller --yes."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
      dimensions  = { QueueName = local.names.caller_dlq }
      threshold   = 1, periods = 1
    }
    executions_failed = {
      description = "A file could not be planned or reported: lp csv executions lists them and why; fix the cause, then lp csv executions --redrive --yes starts them again."
      namespace   = "AWS/States", metric = "ExecutionsFailed", statistic = "Sum"
      dimensions  = { StateMachineArn = local.state_machine_arn }
      threshold   = 1, periods = 1
    }
    executions_timed_out = {
      description = "A file ran past the state machine's timeout (the API slower than planned, or chunks throttled for long): lp csv executions lists them; raise caller.reserved_concurrency or the limit, then lp csv executions --redrive --yes."
      namespace   = "AWS/States", metric = "ExecutionsTimedOut", statistic = "Sum"
      dimensions  = { StateMachineArn = local.state_machine_arn }
      threshold   = 1, periods = 1
    }
    caller_throttles = {
      # Throttles are backpressure the state machine waits out; only a sustained run of them needs a human.
      description = "csv-api-caller throttled for 15 minutes: more chunks want to run than caller.reserved_concurrency allows, and files wait. Raise it if the API's limit has room."
      namespace   = "AWS/Lambda", metric = "Throttles", statistic = "Sum"
      dimensions  = { FunctionName = local.names.caller }
      threshold   = var.alarm_thresholds.throttles, periods = 3
    }
  }
  forwarder_alarms = {
    log_forwarder_dlq = {
      description = "Log batches Splunk did not take after the retries: lp dlq show csv_to_api/log_forwarder, check the HEC (token, TLS, reachability), then lp dlq redrive csv_to_api/log_forwarder --yes."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
      dimensions  = { QueueName = local.names.forwarder_dlq }
      threshold   = 1, periods = 1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = merge(local.metric_alarms, local.splunk_enabled ? local.forwarder_alarms : {})

  alarm_name          = "${local.prefix}-${replace(each.key, "_", "-")}-${local.env}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "reject_rate" {
  alarm_name          = "${local.prefix}-reject-rate-${local.env}"
  alarm_description   = "Over ${var.alarm_thresholds.reject_rate * 100}% of rows rejected in 5 minutes: a partner sends a changed layout or the API refuses a field. Read the reports (lp csv files) and the rejects CSV."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.alarm_thresholds.reject_rate
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    expression  = "rejected / MAX([rejected + accepted + already, 1])"
    label       = "Reject rate"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { rejected = "RowsRejected", accepted = "RowsAccepted", already = "RowsAlreadyAccepted" }

    content {
      id = metric_query.key

      metric {
        namespace   = local.names.metrics_ns
        metric_name = metric_query.value
        dimensions  = { service = "csv-api-caller" }
        period      = 300
        stat        = "Sum"
      }
    }
  }
}
