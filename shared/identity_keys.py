"""The Ed25519 key pair that signs the internal identity: only the gateway holds the private key.

In production both halves come from the environment as base64url of their 32 raw bytes:
`IDENTITY_PRIVATE_KEY` (the gateway only) and `IDENTITY_PUBLIC_KEY` (every service). Locally (APP_ENV development
or test) a pair is made once per var dir in `var/identity-ed25519.json`, so no key is ever written in code.
`python -m shared.identity_keys` prints a fresh pair as .env lines.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.config import ConfigError, env

PRIVATE_ENV = "IDENTITY_PRIVATE_KEY"
PUBLIC_ENV = "IDENTITY_PUBLIC_KEY"
LOCAL_FILE = "identity-ed25519.json"
SIGNER = "gateway"  # the one service that vouches for callers


@dataclass(frozen=True)
class IdentityKeys:
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None  # None in every service but the gateway


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError as exc:
        raise ConfigError(f"{name} is not base64url") from exc
    if len(raw) != 32:
        raise ConfigError(f"{name} must be 32 bytes (Ed25519), got {len(raw)}")
    return raw


def private_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def new_pair_text() -> dict[str, str]:
    key = Ed25519PrivateKey.generate()
    return {"private": encode(private_bytes(key)), "public": encode(public_bytes(key.public_key()))}


def local_pair(var_dir: Path) -> dict[str, str]:
    """The checkout's local pair, made on first use; every local process reads the same file."""
    path = var_dir / LOCAL_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(new_pair_text()))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first process wins, the others read its file
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return json.loads(path.read_text())


def local_private_key(var_dir: Path) -> Ed25519PrivateKey:
    """For tests and tools that stand in for the gateway of a local run."""
    return Ed25519PrivateKey.from_private_bytes(decode(local_pair(var_dir)["private"], LOCAL_FILE))


def load_identity_keys(service: str, var_dir: Path, is_dev: bool) -> IdentityKeys:
    """The public key for every service; the private key for the gateway only. Outside development a missing
    key is a ConfigError: a service must never fall back to a key an attacker could know."""
    private_text = env(PRIVATE_ENV) if service == SIGNER else None
    public_text = env(PUBLIC_ENV)
    if is_dev and not public_text and not (service == SIGNER and private_text):
        pair = local_pair(var_dir)
        public_text = pair["public"]
        if service == SIGNER:
            private_text = pair["private"]
    if service == SIGNER and not private_text:
        raise ConfigError(f"{PRIVATE_ENV} must be set for the gateway")
    private = Ed25519PrivateKey.from_private_bytes(decode(private_text, PRIVATE_ENV)) if private_text else None
    if public_text:
        public = Ed25519PublicKey.from_public_bytes(decode(public_text, PUBLIC_ENV))
    elif private is not None:
        public = private.public_key()
    else:
        raise ConfigError(f"{PUBLIC_ENV} must be set")
    if private is not None and public_bytes(private.public_key()) != public_bytes(public):
        raise ConfigError(f"{PUBLIC_ENV} does not belong to {PRIVATE_ENV}")
    return IdentityKeys(public=public, private=private)


if __name__ == "__main__":
    pair = new_pair_text()
    print(f"{PRIVATE_ENV}={pair['private']}")
    print(f"{PUBLIC_ENV}={pair['public']}")
