"""Certificates read on the control node (PEM files the operator gives, or a trust bundle read from
a host): serial, validity, SANs, the key they carry, and who signed them. Parsed with `cryptography`
(paramiko's own dependency); nothing here writes a file or talks to a host."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

BEGIN = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class Cert:
    pem: str
    serial: str  # hex, upper case as openssl prints it
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    dns: tuple[str, ...]
    ips: tuple[str, ...]
    is_ca: bool
    fingerprint: str  # sha256 of the DER

    def valid_at(self, now: dt.datetime) -> bool:
        return self.not_before <= now < self.not_after

    def names(self, host: str) -> bool:
        """Whether a client connecting to `host` (an address or a DNS name) accepts it."""
        try:
            return str(ipaddress.ip_address(host)) in self.ips
        except ValueError:
            return host.lower() in (d.lower() for d in self.dns)


def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def parse(pem: str) -> Cert:
    """One certificate (the first in the text); ValueError when it is none."""
    cert = _load(pem)
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(i) for i in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bool(basic.ca)
    except x509.ExtensionNotFound:
        is_ca = False
    der = cert.public_bytes(serialization.Encoding.DER)
    return Cert(
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        serial=f"{cert.serial_number:X}",
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns=dns,
        ips=ips,
        is_ca=is_ca,
        fingerprint=hashlib.sha256(der).hexdigest(),
    )


def parse_bundle(text: str) -> tuple[Cert, ...]:
    """Every certificate of a PEM bundle, in order (what is not a certificate is skipped)."""
    found = []
    for chunk in text.split(BEGIN)[1:]:
        try:
            found.append(parse(BEGIN + chunk))
        except ValueError:
            continue
    return tuple(found)


def key_matches(cert_pem: str, key_pem: str) -> bool:
    """Whether the private key is the one the certificate's public key belongs to (its public
    part; the key's own consistency, costly for RSA, is checked on the host: `openssl pkey
    -check`, steps/tlsfiles.py)."""
    try:
        key = serialization.load_pem_private_key(
            key_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        return False
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(
        key.public_key().public_bytes(enc, fmt)
        == _load(cert_pem).public_key().public_bytes(enc, fmt)
    )


def signed_by(cert_pem: str, ca_pem: str) -> bool:
    """Whether the CA certificate issued and signed the certificate (its signature checks out)."""
    try:
        _load(cert_pem).verify_directly_issued_by(_load(ca_pem))
    except Exception:  # noqa: BLE001 - InvalidSignature, another key type: not signed by it
        return False
    return True


def chains_to(cert_pem: str, bundle: tuple[Cert, ...]) -> Cert | None:
    """The CA of the bundle that signed the certificate, or None."""
    return next((ca for ca in bundle if signed_by(cert_pem, ca.pem)), None)
