# Local root: the whole graph on the local AWS stack (ministack from `make up`, or
# LocalStack from docker-compose). Credentials are the emulator's fixed dummy pair.

terraform {
  # State path is given at init (`make up`): .local/terraform/local.tfstate, wiped with the emulator.
  backend "local" {}

  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region                      = var.region
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # false: aws_glue_job ARNs need the account id.
  skip_requesting_account_id = false
  s3_use_path_style          = true
  # Retries absorb the emulator closing a kept-alive connection mid-refresh under load.
  max_retries = 3

  endpoints {
    cloudwatch     = var.endpoint
    dynamodb       = var.endpoint
    events         = var.endpoint
    glue           = var.endpoint
    iam            = var.endpoint
    kms            = var.endpoint
    lambda         = var.endpoint
    logs           = var.endpoint
    s3             = var.endpoint
    secretsmanager = var.endpoint
    sfn            = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    ssm            = var.endpoint
    sts            = var.endpoint
    elbv2          = var.endpoint
    apigateway     = var.endpoint
    ec2            = var.endpoint
    scheduler      = var.endpoint
  }
}

module "stack" {
  source = "../../modules/stack"

  environment = "local"
  package_dir = var.package_dir
  log_level   = "DEBUG"

  alerts_to_sftp = {
    api_url         = var.alerts_api_url
    sftp_remote_dir = var.sftp_remote_dir
    staging         = var.alerts_staging
    # Short, so a poison message reaches the DLQ in minutes in the tests (visibility = 6 x timeout).
    worker = { timeout = 10 }
    # The emulator's ALB is reached on 127.0.0.1 only (allowed_cidrs) and terminates no TLS: the
    # trigger secret never leaves this machine. Every AWS root leaves this false and gives a certificate.
    allow_plaintext_trigger = true
    secrets = {
      # The version ARNs (equal to the secrets' ARNs) make the functions wait for the values.
      trigger_secret_arn         = aws_secretsmanager_secret_version.local["trigger"].arn
      api_token_secret_arn       = aws_secretsmanager_secret_version.local["api_token"].arn
      mysql_secret_arn           = aws_secretsmanager_secret_version.local["mysql"].arn
      sftp_secret_arn            = aws_secretsmanager_secret_version.local["sftp"].arn
      sftp_known_hosts_parameter = aws_ssm_parameter.sftp_known_hosts.name
    }
    network = {
      vpc_id         = aws_vpc.local.id
      alb_subnet_ids = [aws_subnet.local_a.id, aws_subnet.local_b.id]
      allowed_cidrs  = ["127.0.0.1/32"]
    }
  }

  ndjson_to_parquet = {
    stream_manifests_enabled = var.ndjson_to_parquet_stream_manifests
    eventbridge_enabled      = var.ndjson_to_parquet_eventbridge
    force_destroy            = true
    point_in_time_recovery   = false
    # The Glue job reaches the emulator only through this argument (ministack passes job arguments as
    # environment variables and sets no AWS_ENDPOINT_URL for the job).
    glue_extra_arguments = { "--aws_endpoint_url" = var.endpoint }
    # Small batches and short waits, so the tests see several manifests, an orphan flush and quick polls.
    max_files_per_manifest        = 50
    orphan_after_seconds          = 10
    glue_poll_seconds             = 2
    concurrent_runs_retry_seconds = 2
    retry_interval_seconds        = 1
    # ministack reads a job's Timeout as seconds (AWS: minutes) and caps it at 600: 120 s here.
    glue_timeout_minutes = 120
  }

  csv_to_api = {
    api_url = var.records_api_url
    # The fake API listens on 127.0.0.1: no network is crossed. Every AWS root gives an https:// URL.
    allow_plaintext_api = true
    secrets = {
      api_token_secret_arn = aws_secretsmanager_secret_version.csv["records_api_token"].arn
      smtp_secret_arn      = aws_secretsmanager_secret_version.csv["smtp"].arn
      # The fake HEC of the stack (tools/fake_splunk_hec, HTTPS): every function's logs are forwarded.
      hec_secret_arn = aws_secretsmanager_secret_version.csv["splunk_hec"].arn
    }
    # The HEC secret is created by this root, so its ARN is unknown at plan: say forwarding is on.
    log_forwarding         = true
    rate_limit             = var.csv_rate_limit
    rate_utilization       = var.csv_rate_utilization
    force_destroy          = true
    point_in_time_recovery = false
    # Small chunks, quick retries and short waits, so the tests see many chunks, resumes and redrives.
    chunk_bytes         = 65536
    max_concurrency     = 4
    stagger_seconds     = 1
    chunk_retry_seconds = 1
    chunk_max_attempts  = 2
    # ministack answers a throttled invoke (reserved concurrency reached) with Lambda.Unknown, not
    # Lambda.TooManyRequestsException: retry it as patiently as a throttle (issue 10's note).
    unknown_error_attempts = 60
    retry_seconds          = 1
    caller                 = { timeout = 60, deadline_margin = 10, reserved_concurrency = 12, max_attempts = 3 }
    # A file over the files-in-flight bound checks again after 2 s: a freed slot idles less.
    starter = { max_receive_count = 3, timeout = 10, defer_seconds = 2 }
    planner = { timeout = 120 }
    feeds = [
      {
        name   = "orders"
        prefix = "incoming/orders/"
        columns = [
          { name = "order_id", type = "integer", required = true },
          { name = "customer", required = true, max_length = 64 },
          { name = "amount", type = "decimal", required = true },
          { name = "email", pattern = "[^@\\s]+@[^@\\s]+", max_length = 254 },
          { name = "note" },
        ]
      },
    ]
  }
}
