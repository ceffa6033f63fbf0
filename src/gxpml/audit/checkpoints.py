"""Signed checkpoints of the chain head (Ed25519), like CloudTrail's digest files.

A checkpoint signs ``{workspace, seq, hash, ts}``. Whoever rewrites the chain after a
checkpoint must forge the signature too, which needs the workspace's private signing key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gxpml.canonical import canonical_json
from gxpml.errors import ConfigError

__all__ = ["Signer", "checkpoint_message", "key_id_of", "verify_signature"]


def checkpoint_message(*, workspace_id: str, seq: int, hash: str, ts: str) -> bytes:
    """The bytes a checkpoint signs."""
    return canonical_json(
        {"hash": hash, "seq": seq, "ts": ts, "type": "gxpml-audit-checkpoint", "workspace": workspace_id}
    ).encode("utf-8")


def key_id_of(public_key_hex: str) -> str:
    """A short fingerprint of a public key: ``ed25519:`` + 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def verify_signature(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is a valid Ed25519 signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(signature_hex), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class Signer:
    """The workspace's Ed25519 signing key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_hex = raw.hex()
        self.key_id = key_id_of(self.public_key_hex)

    @classmethod
    def create(cls, path: Path) -> Signer:
        """Generate a key and write it to ``path`` readable by its owner only."""
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> Signer:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"The workspace signing key {path} is missing; audit checkpoints cannot be signed. "
                "Restore it from your key backup."
            ) from exc
        except ValueError as exc:
            raise ConfigError(f"The workspace signing key {path} is corrupt. Restore it from your key backup.") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 key.")
        return cls(key)

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()
