-- Alert JSON staged in MySQL (ALERT_STAGING=mysql). Written once per alert, never updated.
CREATE TABLE IF NOT EXISTS alert_payloads (
  job_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  alert_key CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  body MEDIUMBLOB NOT NULL,
  sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (job_id, alert_key)
) ENGINE=InnoDB;
