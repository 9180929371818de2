resource "aws_cloudwatch_metric_alarm" "dead_lettered" {
  alarm_name          = "${local.prefix}-dead-lettered-${var.environment}"
  alarm_description   = "Alert pointers rest in the sftp-worker DLQ (missing staged payloads, bad pointers). The finalizer's log lists them."
  namespace           = local.metric_ns
  metric_name         = "DeadLetteredAlerts"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "stuck" {
  alarm_name          = "${local.prefix}-stuck-${var.environment}"
  alarm_description   = "Alerts or jobs have waited longer than stuck_after_seconds. The finalizer's log lists them."
  namespace           = local.metric_ns
  metric_name         = "StuckAlerts"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
