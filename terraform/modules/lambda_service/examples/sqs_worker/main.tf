# An SQS-fed worker: queue + DLQ, event source mapping with partial batch failures, and the one
# grant its code needs (write items to a table it is given). `terraform apply -var package_dir=...`
# after `make build`; modules/example is the same shape, deployed and tested end to end.

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "package_dir" {
  description = "Directory holding the zips of `make build`."
  type        = string
  default     = "../../../../../build"
}

variable "tracking_table_arn" {
  description = "ARN of the DynamoDB table the worker records messages in."
  type        = string
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "TrackMessages"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [var.tracking_table_arn]
  }
}

module "worker" {
  source = "../.."

  name         = "lambda-pipelines-example-sqs-worker-dev"
  description  = "Records each queued message once."
  package_path = "${var.package_dir}/example-worker.zip"
  handler      = "example_worker.handler.lambda_handler"
  timeout      = 30

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.worker.json

  environment = { TRACKING_TABLE = element(split("/", var.tracking_table_arn), 1) }

  # Visibility timeout 6 x 30 s; a message failing 3 receives moves to the DLQ, which alarms.
  sqs_source = {
    batch_size                         = 100
    maximum_batching_window_in_seconds = 5
    maximum_concurrency                = 10
    max_receive_count                  = 3
  }
}

output "queue_url" {
  description = "Send work here."
  value       = module.worker.queue_url
}

output "dlq_url" {
  description = "Messages that failed max_receive_count times."
  value       = module.worker.dlq_url
}

output "alarm_names" {
  description = "Errors and DLQ depth alarms."
  value       = module.worker.alarm_names
}
