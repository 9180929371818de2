"""A throwaway certificate authority and a server certificate for 127.0.0.1, so a fake can serve HTTPS
that a client verifies as it would a real endpoint (against the CA, not with verification off)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Certificates:
    """The files :func:`make_certificates` wrote: the CA's certificate, the server's and its key."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_pem(self) -> str:
        """The CA certificate as PEM: what a client trusts (urllib3: ``ca_cert_data=``)."""
        return self.ca_file.read_text()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> Certificates:
    """Certificates for ``hosts`` in ``directory``: reused when all three are there and valid a day more.

    EC P-256 keys: a new set takes milliseconds, where RSA would take a noticeable part of a test.
    """
    certificates = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    now = datetime.datetime.now(datetime.UTC)
    if _reusable(certificates, now):
        return certificates
    directory.mkdir(parents=True, exist_ok=True)
    valid_from, valid_to = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lambda-pipelines fake CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    _write(
        certificates.key_file,
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    _write(certificates.cert_file, cert.public_bytes(pem))
    _write(certificates.ca_file, ca_cert.public_bytes(pem))  # last: its presence says the set is whole
    return certificates


def _reusable(certificates: Certificates, now: datetime.datetime) -> bool:
    paths = (certificates.ca_file, certificates.cert_file, certificates.key_file)
    if not all(path.exists() for path in paths):
        return False
    try:
        cert = x509.load_pem_x509_certificate(certificates.cert_file.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc > now + datetime.timedelta(days=1)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes) -> None:
    # The key is a secret, however throwaway: the owner's alone, like the stack's other files.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
