"""The password policy and argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from user_svc.passwords import Argon2Passwords, common_passwords, password_problems

EMAIL = "alice.smith@example.com"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Short1!", "at least 12 characters"),
        ("alllowercaseletters", "two of"),
        ("123456789012345", "two of"),
        ("xxAlice.Smith99yy", "email"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    # when a weak password is checked for alice's account
    problems = password_problems(password, EMAIL, min_length=12)
    # then the policy names why
    assert any(reason in p for p in problems), problems


@pytest.mark.parametrize("password", ["123qweasdzxc", "1QAZ2wsx3EDC", "Q1w2E3r4T5y6"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    # when a long password from the shipped list of common passwords is checked
    problems = password_problems(password, EMAIL, min_length=12)
    # then it is refused for being common, and for nothing else
    assert problems == ["must not be a commonly used password"]


def test_the_shipped_list_is_large_and_lower_case() -> None:
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"123456", "password", "qwerty"} <= common
    assert all(p == p.lower() for p in common)


@pytest.mark.parametrize("password", ["correct horse battery", "Tr0ub4dor&3xyz", "ÄÖÜäöüßéèàç1"])
def test_strong_passwords_pass(password: str) -> None:
    assert password_problems(password, EMAIL, min_length=12) == []


def test_a_short_local_part_does_not_forbid_common_letters() -> None:
    assert password_problems("bob-has-a-long-password", "ab@example.com") == []


def test_min_length_is_configurable() -> None:
    assert password_problems("abcdefghij1", EMAIL, min_length=8) == []
    assert password_problems("abcdefghij1", EMAIL, min_length=12) != []


@pytest.fixture(scope="module")
def passwords() -> Argon2Passwords:
    # cheap parameters: the algorithm is what matters here, not the cost
    return Argon2Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


async def test_hash_is_argon2id_and_verifies(passwords: Argon2Passwords) -> None:
    stored = await passwords.hash("Tr0ub4dor&3xyz")
    assert stored.startswith("$argon2id$") and "Tr0ub4dor" not in stored
    assert await passwords.verify(stored, "Tr0ub4dor&3xyz")
    assert not await passwords.verify(stored, "tr0ub4dor&3xyz")


async def test_unknown_account_is_refused_even_with_the_dummy_password(
    passwords: Argon2Passwords,
) -> None:
    # the dummy hash is checked for unknown accounts, but never counts as a match
    assert not await passwords.verify(None, "not a real password, only spends time")
    assert not await passwords.verify("garbage", "whatever")
