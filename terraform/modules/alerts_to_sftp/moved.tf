# The staging bucket moved into modules/s3_bucket (issue 8): these keep an existing deployment's
# bucket where it is instead of destroying and re-creating it.
moved {
  from = aws_s3_bucket.staging
  to   = module.staging_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.staging
  to   = module.staging_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.staging
  to   = module.staging_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.staging
  to   = module.staging_bucket.aws_s3_bucket_lifecycle_configuration.this
}
