"""The local stack: ministack (AWS API), MariaDB and an OpenSSH SFTP server as processes of ours.

Used by `make up` / `make down` (``python -m devstack``) and by the pytest session fixture.
Everything lives under the git-ignored ``.local/`` of the repo; nothing of the system's own
services, users or configuration is touched.
"""
