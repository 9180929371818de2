"""The alerts-to-SFTP pipeline's shared pieces: message contract, tracking vocabulary, payload staging."""
