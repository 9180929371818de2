"""Example SQS worker: the smallest complete service, and the template for new ones."""
