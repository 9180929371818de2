"""A throwaway certificate authority and a server certificate it signed, for 127.0.0.1, ::1 and localhost,
so a fake (HTTPS, SMTP STARTTLS) serves TLS that a client verifies as it would a real endpoint: against
the CA, never with verification off.

Clients trust the CA's PEM (``ca.pem``) and nothing else, as they would a private relay's CA. The CA's
private key is never written: nothing else can ever be signed by it, so a leaked ``ca.pem`` vouches for
this one server certificate only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 365
# Renewed this long before it expires, so a stack left running for days does not fail at the edge.
RENEW_BEFORE = datetime.timedelta(days=7)


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


def make_certificates(directory: Path | str, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> Certificates:
    """A CA and a server certificate for ``hosts`` signed by it in ``directory``, unless a valid set for
    those hosts is there already (several processes may share one directory: writes are atomic).

    EC P-256 keys: a new set takes milliseconds, where RSA would take a noticeable part of a test.
    """
    folder = Path(directory)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    if not _usable(found, hosts):
        _write_new(found, hosts)
    return found


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _public_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _usable(found: Certificates, hosts: tuple[str, ...]) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(found.ca_file.read_bytes())
        cert = x509.load_pem_x509_certificate(found.cert_file.read_bytes())
        key = serialization.load_pem_private_key(found.key_file.read_bytes(), password=None)
        # A run cut short between two of the files leaves a certificate that the CA did not sign.
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        _public_der(key.public_key()) == _public_der(cert.public_key())
        and all(name in names for name in _names(hosts))
        and cert.not_valid_after_utc - RENEW_BEFORE > datetime.datetime.now(datetime.UTC)
    )


def _write_new(found: Certificates, hosts: tuple[str, ...]) -> None:
    now = datetime.datetime.now(datetime.UTC)
    # Backdated a little: a client whose clock runs behind would otherwise see "not yet valid".
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"lambda-pipelines fake CA {now:%Y%m%d%H%M%S}")]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomic(found.key_file, key_pem)
    _write_atomic(found.cert_file, cert.public_bytes(serialization.Encoding.PEM))
    _write_atomic(found.ca_file, ca.public_bytes(serialization.Encoding.PEM))  # last: the set is whole


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_atomic(path: Path, data: bytes) -> None:
    # The key is a secret, however throwaway: the owner's alone, like the stack's other files.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
