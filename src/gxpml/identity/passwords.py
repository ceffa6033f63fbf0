"""Password hashing (argon2id) and the password policy (21 CFR 11.300(b), Annex 11 §12)."""

from __future__ import annotations

import json

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from gxpml.config import SecurityPolicy
from gxpml.errors import PasswordPolicyError

__all__ = ["Passwords"]


class Passwords:
    """Hashes, verifies and checks passwords against a :class:`SecurityPolicy`."""

    def __init__(self, policy: SecurityPolicy) -> None:
        self.policy = policy
        self._hasher = PasswordHasher(
            time_cost=policy.argon2_time_cost,
            memory_cost=policy.argon2_memory_kib,
            parallelism=policy.argon2_parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def check_new(self, password: str, *, username: str, history_json: str = "[]") -> None:
        """Raise PasswordPolicyError unless ``password`` may be set for ``username``."""
        minimum = self.policy.password_min_length
        if len(password) < minimum:
            raise PasswordPolicyError(
                f"The password is too short: it has {len(password)} characters, the policy needs "
                f"at least {minimum}. Choose a longer one (a passphrase of several words works well)."
            )
        if username.lower() in password.lower():
            raise PasswordPolicyError("The password must not contain the user name. Choose another one.")
        for old_hash in json.loads(history_json)[-self.policy.password_history:]:
            if self.verify(old_hash, password):
                raise PasswordPolicyError(
                    f"The password was used recently: the policy forbids reusing the last "
                    f"{self.policy.password_history} passwords. Choose a new one."
                )

    def remember(self, history_json: str, password_hash: str) -> str:
        """The password history with ``password_hash`` added, trimmed to the policy's length."""
        keep = max(self.policy.password_history, 1)
        history = [*json.loads(history_json), password_hash][-keep:]
        return json.dumps(history)
