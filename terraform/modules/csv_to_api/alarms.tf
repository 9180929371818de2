# The pipeline's alarms (the functions' error alarms come with modules/lambda_service). Each description
# is the runbook step the alert manager's e-mail carries; docs/csv_to_api.md#runbook has the same rows.

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${local.prefix}-ingest-age-${local.env}"
  alarm_description   = "Files wait in the ingest queue: the starter is failing or throttled. Read its log group; lp csv files --status received."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = local.names.ingest_queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarm_thresholds.queue_age_seconds
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  alarm_name          = "${local.prefix}-ingest-depth-${local.env}"
  alarm_description   = "More files queued than the pipeline drains: check the starter's pollers (starter.maximum_concurrency) and failed executions."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.names.ingest_queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.alarm_thresholds.queue_depth
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "caller_dlq" {
  alarm_name          = "${local.prefix}-caller-dlq-${local.env}"
  alarm_description   = "Chunks gave up after their retries: lp dlq show csv_to_api/caller, fix the cause (API down, token), then lp dlq redrive csv_to_api/caller --yes."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.names.caller_dlq }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  alarm_name          = "${local.prefix}-executions-failed-${local.env}"
  alarm_description   = "A file could not be planned or reported: lp csv file <file id> says why; the DLQ processor starts it again: invoke it with {\"action\": \"redrive\", \"source\": \"executions\", \"dry_run\": false}."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = local.state_machine_arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "caller_throttles" {
  alarm_name          = "${local.prefix}-caller-throttles-${local.env}"
  alarm_description   = "csv-api-caller hit its reserved concurrency: more chunks want to run than caller.reserved_concurrency allows. Raise it if the API's limit has room."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = local.names.caller }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
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
