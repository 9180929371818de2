# The pipelines' module calls were renamed to the pipelines' names (issue 8); these keep existing
# deployments' resources where they are instead of destroying and re-creating them.
moved {
  from = module.alerts
  to   = module.alerts_to_sftp
}

moved {
  from = module.ndjson_parquet
  to   = module.ndjson_to_parquet
}

# The alarm topic moved into modules/sns_topic (issue 8, with a key of its own).
moved {
  from = aws_sns_topic.alarms
  to   = module.alarm_topic.aws_sns_topic.this
}

moved {
  from = aws_sns_topic_subscription.alarm_email
  to   = module.alarm_topic.aws_sns_topic_subscription.email
}
