# The observability switches of csv_to_api: Splunk (secrets.hec_secret_arn -> csv-log-forwarder, its DLQ
# and alarm, a subscription filter per function's log group) and Dynatrace (dynatrace.enabled -> metric
# stream -> Firehose -> the Dynatrace endpoint), both off by default. Offline: plan only, mocked AWS.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  # Policy documents render JSON; the mock's random string would not parse as a policy.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  project     = "lambda-pipelines"
  environment = "test"
  package_dir = "../../tests/fixtures/package"
  api_url     = "https://records.partner.example.com"
  secrets = {
    api_token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token"
    smtp_secret_arn      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp"
  }
}

run "defaults_forward_nothing" {
  command = plan

  assert {
    condition     = length(module.log_forwarder) == 0 && output.functions.log_forwarder == null
    error_message = "Without secrets.hec_secret_arn no log forwarder function may be planned."
  }

  assert {
    condition     = length(aws_sqs_queue.forwarder_dlq) == 0 && length(aws_lambda_function_event_invoke_config.log_forwarder) == 0
    error_message = "Without secrets.hec_secret_arn there is no forwarder DLQ nor on-failure destination."
  }

  assert {
    condition     = length(aws_cloudwatch_log_subscription_filter.splunk) == 0 && length(aws_lambda_permission.log_forwarder) == 0
    error_message = "Without secrets.hec_secret_arn no log group may be subscribed (nor the forwarder invoked by CloudWatch Logs)."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_stream.dynatrace) == 0 && length(aws_kinesis_firehose_delivery_stream.dynatrace) == 0
    error_message = "Dynatrace is off by default: no metric stream and no Firehose delivery stream."
  }

  assert {
    condition     = length(module.dynatrace_backup) == 0 && length(aws_iam_role.firehose) == 0 && length(aws_iam_role.metric_stream) == 0
    error_message = "Dynatrace is off by default: no backup bucket and no Firehose or metric stream role."
  }

  assert {
    condition     = toset([for name, queue in output.dead_letter_queues : name if queue != null]) == toset(["ingest", "caller"])
    error_message = "dead_letter_queues must hold exactly ingest and caller without the forwarder (log_forwarder null), got ${jsonencode(keys(output.dead_letter_queues))}."
  }

  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.metric), "log_forwarder_dlq")
    error_message = "No log_forwarder_dlq alarm without the forwarder."
  }

  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.metric), "executions_timed_out") && aws_cloudwatch_metric_alarm.metric["executions_timed_out"].metric_name == "ExecutionsTimedOut"
    error_message = "The executions_timed_out alarm (AWS/States ExecutionsTimedOut) must always be planned."
  }

  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.metric), "caller_throttles") && aws_cloudwatch_metric_alarm.metric["caller_throttles"].evaluation_periods == 3
    error_message = "The caller_throttles alarm must be planned and alarm only after 3 periods in a row."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["caller_throttles"].threshold == 50 && aws_cloudwatch_metric_alarm.metric["caller_throttles"].dimensions.FunctionName == "lambda-pipelines-csv-api-caller-test"
    error_message = "caller_throttles must watch the caller's Throttles against the default threshold of 50."
  }
}

run "splunk_forwarder_when_hec_secret_set" {
  command = plan

  variables {
    secrets = {
      api_token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token"
      smtp_secret_arn      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp"
      hec_secret_arn       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hec"
    }
  }

  assert {
    condition     = length(module.log_forwarder) == 1 && output.functions.log_forwarder == "lambda-pipelines-csv-log-forwarder-test"
    error_message = "With secrets.hec_secret_arn the log forwarder function must be planned."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_log_subscription_filter.splunk)) == toset(keys(output.log_groups)) && length(aws_cloudwatch_log_subscription_filter.splunk) == 5
    error_message = "One subscription filter per forwarded log group (starter, planner, caller, dlq_processor, alert_manager), got ${jsonencode(keys(aws_cloudwatch_log_subscription_filter.splunk))}."
  }

  assert {
    condition     = alltrue([for key, filter in aws_cloudwatch_log_subscription_filter.splunk : filter.log_group_name == output.log_groups[key] && filter.filter_pattern == ""])
    error_message = "Each subscription filter must take every event of its own function's log group."
  }

  assert {
    condition     = !contains(values(output.log_groups), "/aws/lambda/lambda-pipelines-csv-log-forwarder-test")
    error_message = "The forwarder's own log group must not be forwarded (it would feed itself)."
  }

  assert {
    condition     = toset(keys(aws_lambda_permission.log_forwarder)) == toset(keys(output.log_groups)) && alltrue([for key, permission in aws_lambda_permission.log_forwarder : permission.principal == "logs.amazonaws.com" && permission.source_arn == "arn:aws:logs:us-east-1:123456789012:log-group:${output.log_groups[key]}:*"])
    error_message = "CloudWatch Logs must be allowed to invoke the forwarder from each forwarded log group, and from it only."
  }

  assert {
    condition     = length(aws_sqs_queue.forwarder_dlq) == 1 && aws_sqs_queue.forwarder_dlq[0].name == "lambda-pipelines-csv-log-forwarder-dlq-test" && aws_sqs_queue.forwarder_dlq[0].sqs_managed_sse_enabled
    error_message = "With the forwarder its dead-letter queue (SSE on) must be planned."
  }

  assert {
    condition     = length(aws_lambda_function_event_invoke_config.log_forwarder) == 1 && aws_lambda_function_event_invoke_config.log_forwarder[0].maximum_retry_attempts == 2
    error_message = "The forwarder's failed batches must go to its DLQ after 2 retries."
  }

  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.metric), "log_forwarder_dlq") && aws_cloudwatch_metric_alarm.metric["log_forwarder_dlq"].dimensions.QueueName == "lambda-pipelines-csv-log-forwarder-dlq-test"
    error_message = "With the forwarder the log_forwarder_dlq alarm must watch its DLQ."
  }

  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.metric), "executions_timed_out") && contains(keys(aws_cloudwatch_metric_alarm.metric), "caller_throttles")
    error_message = "The forwarder's alarm adds to the pipeline's alarms, it does not replace them."
  }

  assert {
    condition     = toset(keys(output.dead_letter_queues)) == toset(["ingest", "caller", "log_forwarder"]) && output.dead_letter_queues.log_forwarder.function_name == "lambda-pipelines-csv-log-forwarder-test"
    error_message = "dead_letter_queues must gain log_forwarder (its DLQ and function) with the forwarder, got ${jsonencode(keys(output.dead_letter_queues))}."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_stream.dynatrace) == 0 && length(aws_kinesis_firehose_delivery_stream.dynatrace) == 0
    error_message = "Splunk does not switch Dynatrace on."
  }
}

run "dynatrace_metric_stream_and_firehose" {
  command = plan

  variables {
    dynatrace = {
      enabled          = true
      endpoint_url     = "https://abc12345.live.dynatrace.com/api/v2/otlp/v1/metrics"
      token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dynatrace"
    }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_stream.dynatrace) == 1 && aws_cloudwatch_metric_stream.dynatrace[0].name == "lambda-pipelines-csv-dynatrace-test" && aws_cloudwatch_metric_stream.dynatrace[0].output_format == "opentelemetry1.0"
    error_message = "With dynatrace.enabled an OpenTelemetry 1.0 metric stream must be planned."
  }

  assert {
    condition     = toset([for filter in aws_cloudwatch_metric_stream.dynatrace[0].include_filter : filter.namespace]) == toset(["AWS/Lambda", "AWS/SQS", "AWS/States", "lambda-pipelines/csv_to_api"])
    error_message = "The metric stream must include AWS/Lambda, AWS/SQS, AWS/States and the pipeline's own namespace."
  }

  assert {
    condition     = length(aws_kinesis_firehose_delivery_stream.dynatrace) == 1 && aws_kinesis_firehose_delivery_stream.dynatrace[0].destination == "http_endpoint"
    error_message = "With dynatrace.enabled a Firehose delivery stream to an HTTP endpoint must be planned."
  }

  assert {
    condition     = one(aws_kinesis_firehose_delivery_stream.dynatrace[0].http_endpoint_configuration).url == "https://abc12345.live.dynatrace.com/api/v2/otlp/v1/metrics"
    error_message = "Firehose must deliver to dynatrace.endpoint_url (https: records are encrypted in transit)."
  }

  assert {
    condition     = one(one(aws_kinesis_firehose_delivery_stream.dynatrace[0].http_endpoint_configuration).secrets_manager_configuration).enabled && one(one(aws_kinesis_firehose_delivery_stream.dynatrace[0].http_endpoint_configuration).secrets_manager_configuration).secret_arn == "arn:aws:secretsmanager:us-east-1:123456789012:secret:dynatrace"
    error_message = "Firehose must read the Dynatrace token from Secrets Manager (dynatrace.token_secret_arn), never from the configuration."
  }

  assert {
    condition     = one(aws_kinesis_firehose_delivery_stream.dynatrace[0].http_endpoint_configuration).access_key == null
    error_message = "No access key may be set in the Firehose configuration (the token comes from Secrets Manager)."
  }

  assert {
    condition     = one(aws_kinesis_firehose_delivery_stream.dynatrace[0].http_endpoint_configuration).s3_backup_mode == "FailedDataOnly" && one(one(aws_kinesis_firehose_delivery_stream.dynatrace[0].http_endpoint_configuration).request_configuration).content_encoding == "GZIP"
    error_message = "Firehose must back up only failed records and send GZIP-encoded requests."
  }

  assert {
    condition     = length(aws_kinesis_firehose_delivery_stream.dynatrace[0].server_side_encryption) == 0
    error_message = "The module sets no Firehose server-side encryption (records only in flight; the failed-record backup lives in the KMS-encrypted s3_bucket)."
  }

  assert {
    condition     = length(module.dynatrace_backup) == 1 && length(aws_iam_role.firehose) == 1 && length(aws_iam_role.metric_stream) == 1
    error_message = "With dynatrace.enabled the backup bucket and the Firehose and metric stream roles must be planned."
  }

  assert {
    condition     = length(module.log_forwarder) == 0 && length(aws_cloudwatch_log_subscription_filter.splunk) == 0
    error_message = "Dynatrace does not switch the Splunk forwarder on."
  }
}

run "dynatrace_rejects_a_plain_http_endpoint" {
  command = plan

  variables {
    dynatrace = {
      enabled          = true
      endpoint_url     = "http://abc12345.live.dynatrace.com/api/v2/otlp/v1/metrics"
      token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dynatrace"
    }
  }

  expect_failures = [var.dynatrace]
}

run "dynatrace_rejects_a_missing_endpoint" {
  command = plan

  variables {
    dynatrace = {
      enabled          = true
      token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dynatrace"
    }
  }

  expect_failures = [var.dynatrace]
}

run "dynatrace_rejects_a_missing_token_secret" {
  command = plan

  variables {
    dynatrace = {
      enabled      = true
      endpoint_url = "https://abc12345.live.dynatrace.com/api/v2/otlp/v1/metrics"
    }
  }

  expect_failures = [var.dynatrace]
}

run "dynatrace_rejects_a_token_that_is_not_a_secret_arn" {
  command = plan

  variables {
    dynatrace = {
      enabled          = true
      endpoint_url     = "https://abc12345.live.dynatrace.com/api/v2/otlp/v1/metrics"
      token_secret_arn = "dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX"
    }
  }

  expect_failures = [var.dynatrace]
}

run "unknown_error_attempts_rejects_61" {
  command = plan

  variables {
    unknown_error_attempts = 61
  }

  expect_failures = [var.unknown_error_attempts]
}

run "unknown_error_attempts_accepts_60" {
  command = plan

  variables {
    unknown_error_attempts = 60
  }

  assert {
    condition     = aws_sfn_state_machine.file.name == "lambda-pipelines-csv-file-test"
    error_message = "unknown_error_attempts = 60 (the local root's value) must plan."
  }
}

run "log_forwarding_needs_a_hec_secret" {
  command = plan

  variables {
    log_forwarding = true
  }

  expect_failures = [var.log_forwarding]
}

run "log_forwarding_false_turns_splunk_off_even_with_a_secret" {
  command = plan

  variables {
    log_forwarding = false
    secrets = {
      api_token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token"
      smtp_secret_arn      = "arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp"
      hec_secret_arn       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hec"
    }
  }

  assert {
    condition     = length(aws_cloudwatch_log_subscription_filter.splunk) == 0 && length(aws_sqs_queue.forwarder_dlq) == 0
    error_message = "log_forwarding = false must leave the forwarder out"
  }
}
