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
  max_retries                = 1

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
    scheduler      = var.endpoint
    secretsmanager = var.endpoint
    sfn            = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    ssm            = var.endpoint
    sts            = var.endpoint
    elbv2          = var.endpoint
    apigateway     = var.endpoint
  }
}

module "stack" {
  source = "../../modules/stack"

  environment = "local"
  package_dir = var.package_dir
  log_level   = "DEBUG"
}
