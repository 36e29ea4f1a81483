"""The internal identity is an Ed25519-signed token for one target service with a short life."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import EXPIRY_S, LEEWAY_S, Identity, InvalidIdentityToken, sign_identity, verify_identity
from shared.config import ConfigError
from shared.identity_keys import (
    PRIVATE_ENV,
    PUBLIC_ENV,
    encode,
    load_identity_keys,
    private_bytes,
    public_bytes,
)

ADA = Identity(user_id=7, email="ada@example.org", display_name="Ada", roles=["organiser"])
NOW = 1_900_000_000.0


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_token_for_posters_is_accepted_by_posters(key: Ed25519PrivateKey) -> None:
    token = sign_identity(ADA, key, "posters", now=NOW)
    assert verify_identity(token, key.public_key(), "posters", now=NOW) == ADA


def test_a_token_for_posters_is_refused_by_matching(key: Ed25519PrivateKey) -> None:
    token = sign_identity(ADA, key, "posters", now=NOW)
    with pytest.raises(InvalidIdentityToken, match="audience"):
        verify_identity(token, key.public_key(), "matching", now=NOW)


def test_expiry_allows_a_small_clock_leeway_and_no_more(key: Ed25519PrivateKey) -> None:
    token = sign_identity(ADA, key, "notify", now=NOW)
    assert verify_identity(token, key.public_key(), "notify", now=NOW + EXPIRY_S + LEEWAY_S) == ADA
    with pytest.raises(InvalidIdentityToken, match="expired"):
        verify_identity(token, key.public_key(), "notify", now=NOW + EXPIRY_S + LEEWAY_S + 1)
    # A token from a clock far ahead is not accepted either (it would live longer than intended).
    with pytest.raises(InvalidIdentityToken):
        verify_identity(token, key.public_key(), "notify", now=NOW - LEEWAY_S - 1)


def test_another_key_or_an_edited_payload_is_refused(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(InvalidIdentityToken):
        verify_identity(sign_identity(ADA, other, "posters", now=NOW), key.public_key(), "posters", now=NOW)
    payload, signature = sign_identity(ADA, key, "posters", now=NOW).split(".")
    forged = sign_identity(Identity(1, "x@example.org", "X", roles=["organiser"]), other, "posters", now=NOW)
    with pytest.raises(InvalidIdentityToken):
        verify_identity(f"{forged.split('.')[0]}.{signature}", key.public_key(), "posters", now=NOW)
    for junk in ("", "abc", "a.b.c", "!!!.???", "x" * 10_000):
        with pytest.raises(InvalidIdentityToken):
            verify_identity(junk, key.public_key(), "posters", now=NOW)


def _env(monkeypatch: pytest.MonkeyPatch, key: Ed25519PrivateKey) -> None:
    monkeypatch.setenv(PRIVATE_ENV, encode(private_bytes(key)))
    monkeypatch.setenv(PUBLIC_ENV, encode(public_bytes(key.public_key())))


def test_only_the_gateway_loads_the_private_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    _env(monkeypatch, key)
    assert load_identity_keys("gateway", tmp_path, is_dev=False).private is not None
    for service in ("posters", "matching", "notify"):
        keys = load_identity_keys(service, tmp_path, is_dev=False)
        assert keys.private is None  # even when the variable is (wrongly) present in its environment
        assert public_bytes(keys.public) == public_bytes(key.public_key())


def test_production_needs_the_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(PRIVATE_ENV, raising=False)
    monkeypatch.delenv(PUBLIC_ENV, raising=False)
    with pytest.raises(ConfigError, match=PRIVATE_ENV):
        load_identity_keys("gateway", tmp_path, is_dev=False)
    with pytest.raises(ConfigError, match=PUBLIC_ENV):
        load_identity_keys("posters", tmp_path, is_dev=False)
    assert not (tmp_path / "identity-ed25519.json").exists()  # no silent local key in production


def test_a_public_key_that_does_not_match_the_private_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    _env(monkeypatch, key)
    monkeypatch.setenv(PUBLIC_ENV, encode(public_bytes(Ed25519PrivateKey.generate().public_key())))
    with pytest.raises(ConfigError, match="does not belong"):
        load_identity_keys("gateway", tmp_path, is_dev=False)


def test_local_runs_share_one_generated_pair(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(PRIVATE_ENV, raising=False)
    monkeypatch.delenv(PUBLIC_ENV, raising=False)
    gateway = load_identity_keys("gateway", tmp_path, is_dev=True)
    posters = load_identity_keys("posters", tmp_path, is_dev=True)
    assert gateway.private is not None and posters.private is None
    token = sign_identity(ADA, gateway.private, "posters", now=NOW)
    assert verify_identity(token, posters.public, "posters", now=NOW) == ADA
    assert (tmp_path / "identity-ed25519.json").stat().st_mode & 0o077 == 0
