# Alarms to the pipeline's alert topic (and var.alarm_actions). lambda_service adds, per function, an
# errors alarm, and for manifest-builder the DLQ depth alarm of the file-events queue.

locals {
  execution_alarms = {
    failed = {
      metric      = "ExecutionsFailed"
      description = "Manifests failed in ${local.names.state_machine}. Each one also sent an alert with its error; its files are failed#N."
    }
    timed-out = {
      metric      = "ExecutionsTimedOut"
      description = "An execution of ${local.names.state_machine} hit its TimeoutSeconds backstop: its MANIFEST stays processing and no alert was sent. Check the Glue run, then redrive the execution (aws stepfunctions redrive-execution): a new execution would end in AlreadyHandled."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "executions" {
  for_each = local.execution_alarms

  alarm_name          = "${local.names.state_machine}-executions-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/States"
  metric_name         = each.value.metric
  dimensions          = { StateMachineArn = aws_sfn_state_machine.processor.arn }
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

resource "aws_cloudwatch_metric_alarm" "file_events_age" {
  alarm_name          = "${local.names.file_events}-oldest-message-age"
  alarm_description   = "Landed files wait in ${local.names.file_events} for more than 15 minutes: manifest-builder is failing or throttled."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = local.names.file_events }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 900
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
