"""Tokens of the auth service: long-lived API keys and short-lived login tokens."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass
class TokenRecord:
    """One token. API keys are listed, deletable and never logged out; login tokens are not."""

    id: int
    user_id: int
    token: str
    description: str | None
    created: datetime
    updated: datetime
    last_used: datetime | None
    is_api_key: bool


class TokenStore:
    """All tokens of a deployment, made from a seeded stream so a seed always gives the same ones."""

    def __init__(self, token_stream: random.Random, clock: Callable[[], datetime]) -> None:
        self._lock = threading.RLock()
        self._stream = token_stream
        self._clock = clock
        self._by_token: dict[str, TokenRecord] = {}
        self._next_id = 1

    def issue(
        self,
        user_id: int,
        *,
        is_api_key: bool = True,
        description: str | None = None,
        created: datetime | None = None,
    ) -> TokenRecord:
        with self._lock:
            moment = created or self._clock()
            record = TokenRecord(
                id=self._next_id,
                user_id=user_id,
                token=self._new_token_string(),
                description=description,
                created=moment,
                updated=moment,
                last_used=None,
                is_api_key=is_api_key,
            )
            self._next_id += 1
            self._by_token[record.token] = record
            return record

    def _new_token_string(self) -> str:
        while True:
            # The real service's tokens are 16 random bytes in hex: 32 lowercase hex digits.
            candidate = f"{self._stream.getrandbits(128):032x}"
            if candidate not in self._by_token:
                return candidate

    def use(self, token: str) -> TokenRecord | None:
        """Look a token up as a request presents it, stamping an API key's last use."""
        with self._lock:
            record = self._by_token.get(token)
            if record is not None and record.is_api_key:
                record.last_used = self._clock()
            return record

    def api_keys_of(self, user_id: int) -> list[TokenRecord]:
        """The user's API keys, newest first."""
        with self._lock:
            keys = [r for r in self._by_token.values() if r.user_id == user_id and r.is_api_key]
        return sorted(keys, key=lambda record: record.id, reverse=True)

    def first_api_key_of(self, user_id: int) -> TokenRecord | None:
        keys = self.api_keys_of(user_id)
        return keys[-1] if keys else None

    def revoke(self, record: TokenRecord) -> None:
        with self._lock:
            self._by_token.pop(record.token, None)

    def revoke_login_tokens(self, user_id: int) -> None:
        with self._lock:
            for record in list(self._by_token.values()):
                if record.user_id == user_id and not record.is_api_key:
                    del self._by_token[record.token]

    def replace_api_key(self, user_id: int) -> str:
        """The deprecated refresh: the user's one API key gets a new token string (or is created)."""
        with self._lock:
            keys = self.api_keys_of(user_id)
            if not keys:
                return self.issue(user_id).token
            record = keys[0]
            del self._by_token[record.token]
            record.token = self._new_token_string()
            record.updated = self._clock()
            self._by_token[record.token] = record
            return record.token
