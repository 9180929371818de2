# One page for the pipeline: ingestion (queues), functions, orchestration, Glue and the tables.

locals {
  functions = compact([
    module.builder.function_name,
    module.status_updater.function_name,
    try(module.stream_creator[0].function_name, ""),
  ])

  widget = {
    width  = 12
    height = 6
    region = local.region
  }

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = local.widget.width, height = local.widget.height
      properties = {
        title  = "File events queue and DLQ"
        region = local.widget.region
        stat   = "Maximum"
        period = 60
        view   = "timeSeries"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.file_events, { label = "queued" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", local.names.file_events, { label = "in flight" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.dlq, { label = "DLQ", color = "#d62728" }],
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.names.file_events, { label = "oldest (s)", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = local.widget.width, height = local.widget.height
      properties = {
        title   = "Executions"
        region  = local.widget.region
        stat    = "Sum"
        period  = 300
        view    = "timeSeries"
        metrics = [for name in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] : ["AWS/States", name, "StateMachineArn", aws_sfn_state_machine.processor.arn]]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = local.widget.width, height = local.widget.height
      properties = {
        title   = "Lambda errors and throttles"
        region  = local.widget.region
        stat    = "Sum"
        period  = 300
        view    = "timeSeries"
        metrics = flatten([for fn in local.functions : [["AWS/Lambda", "Errors", "FunctionName", fn], ["AWS/Lambda", "Throttles", "FunctionName", fn]]])
      }
    },
    {
      type = "metric", x = 12, y = 6, width = local.widget.width, height = local.widget.height
      properties = {
        title   = "Lambda duration (p95, ms)"
        region  = local.widget.region
        stat    = "p95"
        period  = 300
        view    = "timeSeries"
        metrics = [for fn in local.functions : ["AWS/Lambda", "Duration", "FunctionName", fn]]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = local.widget.width, height = local.widget.height
      properties = {
        title  = "Glue Spark job (tasks, elapsed ms)"
        region = local.widget.region
        stat   = "Sum"
        period = 300
        view   = "timeSeries"
        metrics = [
          ["Glue", "glue.driver.aggregate.numCompletedTasks", "JobName", aws_glue_job.spark.name, "JobRunId", "ALL", "Type", "count"],
          ["Glue", "glue.driver.aggregate.numFailedTasks", "JobName", aws_glue_job.spark.name, "JobRunId", "ALL", "Type", "count"],
          ["Glue", "glue.driver.aggregate.elapsedTime", "JobName", aws_glue_job.spark.name, "JobRunId", "ALL", "Type", "count", { yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 12, width = local.widget.width, height = local.widget.height
      properties = {
        title  = "Tracking table"
        region = local.widget.region
        stat   = "Sum"
        period = 300
        view   = "timeSeries"
        metrics = [
          ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", aws_dynamodb_table.tracking.name],
          ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", aws_dynamodb_table.tracking.name],
          ["AWS/DynamoDB", "ThrottledRequests", "TableName", aws_dynamodb_table.tracking.name, "Operation", "UpdateItem"],
        ]
      }
    },
    {
      type = "text", x = 0, y = 18, width = 24, height = 3
      properties = {
        markdown = join("\n", [
          "**${local.prefix} (${local.env})**: Python shell runs (`${aws_glue_job.batch.name}`) publish no Glue metrics; their outcome is the state machine's Executions graph. Failed manifests alert `${module.alerts_topic.name}`.",
          "Files by status: query the `status-index` of `${aws_dynamodb_table.tracking.name}` (statuses are sharded `<status>#0..9`).",
        ])
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = local.names.dashboard
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
