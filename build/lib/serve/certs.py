"""Development certificates for mTLS: a CA, a server certificate and a client certificate.

    synthos-serve gen-certs certs/            # or: python -m serve.certs certs/
    synthos-serve gen-certs certs/ --san myhost.internal --san 10.0.0.5

Writes ca.pem / ca.key, server.pem / server.key (SANs: localhost, 127.0.0.1, ::1 and any
--san) and client.pem / client.key, all signed by the CA. For development and tests only:
production certificates come from the organisation's PKI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_SANS = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 365


@dataclass(frozen=True)
class CertFiles:
    """Paths of the generated PEM files."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Synthos development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(entry: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(entry))
    except ValueError:
        return x509.DNSName(entry)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _leaf(
    name: str,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    sans: Sequence[str],
    days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(name), ca_name, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            _key_usage(key_agreement=True),
            critical=True,
        )
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(s) for s in sans]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def generate_certs(
    out_dir: str | os.PathLike,
    sans: Sequence[str] = (),
    client_name: str = "synthos-client",
    days: int = VALID_DAYS,
) -> CertFiles:
    """Write a fresh CA, server and client certificate into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Synthos development CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    all_sans = list(dict.fromkeys([*DEFAULT_SANS, *sans]))
    server_cert, server_key = _leaf(
        "synthos-server", ca_name, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, all_sans, days
    )
    client_cert, client_key = _leaf(
        client_name, ca_name, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, (), days
    )
    files = CertFiles(
        ca_cert=out / "ca.pem",
        ca_key=out / "ca.key",
        server_cert=out / "server.pem",
        server_key=out / "server.key",
        client_cert=out / "client.pem",
        client_key=out / "client.key",
    )
    pem = serialization.Encoding.PEM
    _write(files.ca_cert, ca_cert.public_bytes(pem))
    _write(files.ca_key, _key_pem(ca_key), private=True)
    _write(files.server_cert, server_cert.public_bytes(pem))
    _write(files.server_key, _key_pem(server_key), private=True)
    _write(files.client_cert, client_cert.public_bytes(pem))
    _write(files.client_key, _key_pem(client_key), private=True)
    return files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", type=Path, help="directory for the PEM files")
    parser.add_argument(
        "--san",
        action="append",
        default=[],
        help="extra DNS name or IP of the server certificate (repeatable)",
    )
    parser.add_argument("--client-name", default="synthos-client", help="client certificate CN")
    parser.add_argument("--days", type=int, default=VALID_DAYS, help="validity in days")


def run(args: argparse.Namespace) -> int:
    files = generate_certs(args.out_dir, args.san, args.client_name, args.days)
    for path in (files.ca_cert, files.server_cert, files.client_cert):
        print(f"wrote {path} (+ {path.with_suffix('.key').name})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.certs", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """Digital signatures plus the `allowed` usages; everything else off."""
    usages = dict.fromkeys(
        (
            "key_encipherment",
            "content_commitment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    return x509.KeyUsage(digital_signature=True, **{**usages, **allowed})
