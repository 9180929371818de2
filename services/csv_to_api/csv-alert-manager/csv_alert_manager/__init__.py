"""csv-alert-manager: e-mail each CloudWatch alarm state change of csv_to_api once (SMTP, STARTTLS)."""
