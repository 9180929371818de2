# Each default is set once, in the pipeline's module (issue 8): a root that leaves a setting out gets
# exactly what the module gives on its own. Offline: plan only, mocked AWS. The roots' types are kept
# equal to this one by tests/unit/test_terraform_settings.py.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  package_dir         = "../../tests/fixtures/package"
  allowed_account_ids = ["123456789012"]
  alerts_to_sftp = {
    api_url = "https://alerts.partner.example.com/v1"
    secrets = {
      trigger_secret_arn         = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trigger"
      api_token_secret_arn       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token"
      mysql_secret_arn           = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mysql"
      sftp_secret_arn            = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sftp"
      sftp_known_hosts_parameter = "/lambda-pipelines/dev/sftp-known-hosts"
    }
    network = {
      vpc_id           = "vpc-0123456789abcdef0"
      alb_subnet_ids   = ["subnet-0aaa", "subnet-0bbb"]
      allowed_cidrs    = ["10.20.0.0/16"]
      certificate_arn  = "arn:aws:acm:us-east-1:123456789012:certificate/abcd"
      trigger_hostname = "alerts-trigger.dev.example.com"
    }
  }
}

# The modules alone, given only what they require: their own defaults.
run "alerts_to_sftp_module_defaults" {
  command = plan

  module {
    source = "../../modules/alerts_to_sftp"
  }

  variables {
    project     = "lambda-pipelines"
    environment = "dev"
    api_url     = var.alerts_to_sftp.api_url
    secrets     = var.alerts_to_sftp.secrets
    network     = var.alerts_to_sftp.network
  }
}

run "ndjson_to_parquet_module_defaults" {
  command = plan

  module {
    source = "../../modules/ndjson_to_parquet"
  }

  variables {
    environment = "dev"
  }
}

run "root_given_nothing_deploys_the_module_defaults" {
  command = plan

  variables {
    ndjson_to_parquet = {}
  }

  assert {
    condition     = output.ndjson_to_parquet.settings == run.ndjson_to_parquet_module_defaults.settings
    error_message = "The dev root given ndjson_to_parquet = {} must deploy modules/ndjson_to_parquet's defaults; it deploys ${jsonencode(output.ndjson_to_parquet.settings)}."
  }

  assert {
    condition     = output.alerts_to_sftp.settings == run.alerts_to_sftp_module_defaults.settings
    error_message = "The dev root given only the required alerts_to_sftp fields must deploy modules/alerts_to_sftp's defaults; it deploys ${jsonencode(output.alerts_to_sftp.settings)}."
  }
}

run "a_nested_setting_keeps_its_siblings_defaults" {
  command = plan

  variables {
    ndjson_to_parquet = { builder = { timeout = 30 }, max_files_per_manifest = 50 }
  }

  assert {
    condition     = output.ndjson_to_parquet.settings.builder == merge(run.ndjson_to_parquet_module_defaults.settings.builder, { timeout = 30 })
    error_message = "Setting builder.timeout alone must keep the module's defaults for the other builder fields."
  }

  assert {
    condition     = output.ndjson_to_parquet.settings.max_files_per_manifest == 50
    error_message = "A setting the root gives must reach the module."
  }
}
