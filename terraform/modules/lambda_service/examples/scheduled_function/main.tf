# A function run on a schedule (EventBridge Scheduler), like the alerts finalizer: no queue, one
# reserved execution so runs never overlap, and a scheduler role that may invoke this function only.

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

variable "schedule" {
  description = "EventBridge Scheduler expression."
  type        = string
  default     = "rate(5 minutes)"
}

data "aws_caller_identity" "current" {}

module "report" {
  source = "../.."

  name         = "lambda-pipelines-example-report-dev"
  description  = "Runs every few minutes; overlapping runs are never needed."
  package_path = "${var.package_dir}/alerts-finalizer.zip"
  handler      = "alerts_finalizer.handler.lambda_handler"
  timeout      = 60

  reserved_concurrent_executions = 1
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "lambda-pipelines-example-report-scheduler-dev"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-report"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = module.report.function_arn }]
  })
}

resource "aws_scheduler_schedule" "report" {
  #checkov:skip=CKV_AWS_297:The schedule carries no input; Scheduler encrypts its definition with an AWS owned key.
  name                = "lambda-pipelines-example-report-dev"
  schedule_expression = var.schedule

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.report.function_arn
    role_arn = aws_iam_role.scheduler.arn

    retry_policy {
      maximum_retry_attempts = 0 # the next run is the retry
    }
  }
}

output "function_name" {
  description = "Invoke it directly to run it now."
  value       = module.report.function_name
}

output "schedule_name" {
  description = "The schedule that invokes it."
  value       = aws_scheduler_schedule.report.name
}
