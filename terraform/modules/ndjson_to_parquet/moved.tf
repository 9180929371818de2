# The buckets moved into modules/s3_bucket and the alert topic into modules/sns_topic (issue 8):
# these keep an existing deployment's buckets, key and topic where they are instead of destroying
# and re-creating them. (moved blocks take no for_each: one per bucket and resource.)

moved {
  from = aws_s3_bucket.this["input"]
  to   = module.bucket["input"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["input"]
  to   = module.bucket["input"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["input"]
  to   = module.bucket["input"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_policy.tls_only["input"]
  to   = module.bucket["input"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["input"]
  to   = module.bucket["input"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket.this["manifest"]
  to   = module.bucket["manifest"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["manifest"]
  to   = module.bucket["manifest"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["manifest"]
  to   = module.bucket["manifest"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_policy.tls_only["manifest"]
  to   = module.bucket["manifest"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["manifest"]
  to   = module.bucket["manifest"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket.this["output"]
  to   = module.bucket["output"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["output"]
  to   = module.bucket["output"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["output"]
  to   = module.bucket["output"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_policy.tls_only["output"]
  to   = module.bucket["output"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["output"]
  to   = module.bucket["output"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket.this["quarantine"]
  to   = module.bucket["quarantine"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["quarantine"]
  to   = module.bucket["quarantine"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["quarantine"]
  to   = module.bucket["quarantine"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_policy.tls_only["quarantine"]
  to   = module.bucket["quarantine"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["quarantine"]
  to   = module.bucket["quarantine"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket.this["scripts"]
  to   = module.bucket["scripts"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["scripts"]
  to   = module.bucket["scripts"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["scripts"]
  to   = module.bucket["scripts"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_policy.tls_only["scripts"]
  to   = module.bucket["scripts"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["scripts"]
  to   = module.bucket["scripts"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_kms_key.alerts
  to   = module.alerts_topic.aws_kms_key.this
}

moved {
  from = aws_kms_alias.alerts
  to   = module.alerts_topic.aws_kms_alias.this
}

moved {
  from = aws_sns_topic.alerts
  to   = module.alerts_topic.aws_sns_topic.this
}

moved {
  from = aws_sns_topic_subscription.alert_email
  to   = module.alerts_topic.aws_sns_topic_subscription.email
}
