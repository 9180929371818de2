# staging root: the same graph as every environment (modules/stack), on a real AWS account.
#   terraform init -backend-config=backend.hcl   (copy backend.hcl.example; state in S3 with locking)
#   terraform apply -var-file=staging.tfvars

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  backend "s3" {}
}

provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids
}

module "stack" {
  source = "../../modules/stack"

  environment    = "staging"
  package_dir    = var.package_dir
  log_level      = "INFO"
  alarm_email    = var.alarm_email
  alerts_to_sftp = var.alerts_to_sftp

  ndjson_to_parquet = var.ndjson_to_parquet
  csv_to_api        = var.csv_to_api
}
