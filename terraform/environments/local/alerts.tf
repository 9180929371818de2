# What an AWS account would already have for the alerts pipeline, made on the emulator: a VPC for the
# ALB, and the secrets. Their values come from `make up` (devstack) in TF_VAR_local_secrets: generated
# per checkout, never committed; on AWS they are created and rotated outside Terraform.

resource "aws_vpc" "local" {
  cidr_block = "10.80.0.0/16"
}

resource "aws_subnet" "local_a" {
  vpc_id            = aws_vpc.local.id
  cidr_block        = "10.80.1.0/24"
  availability_zone = "${var.region}a"
}

resource "aws_subnet" "local_b" {
  vpc_id            = aws_vpc.local.id
  cidr_block        = "10.80.2.0/24"
  availability_zone = "${var.region}b"
}

locals {
  local_secret_names = toset(["trigger", "api_token", "mysql", "sftp"])
}

resource "aws_secretsmanager_secret" "local" {
  for_each = local.local_secret_names

  name                    = "lambda-pipelines/local/alerts/${each.key}"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "local" {
  for_each = local.local_secret_names

  secret_id     = aws_secretsmanager_secret.local[each.key].id
  secret_string = var.local_secrets[each.key]
}

resource "aws_ssm_parameter" "sftp_known_hosts" {
  name  = "/lambda-pipelines/local/alerts/sftp-known-hosts"
  type  = "String"
  value = var.local_secrets.sftp_known_hosts
}
