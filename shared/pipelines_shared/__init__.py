"""Shared library of the lambda-pipelines services: settings, AWS clients, logging, SQS batches,
retries and tracking stores. Each module does one job; see shared/README.md.

Import what you use from its module (``from pipelines_shared.log import get_logger``). This file
imports nothing on purpose: a Lambda pays at every cold start for what its imports pull in, and a
service that only logs and reads settings should not load boto3's DynamoDB types or Powertools.
"""
