"""Who is asking, and may they: API keys, JWTs, roles, per-key rate limits.

An API key reads ``pod_<key id>_<secret>``. The store keeps its scrypt hash (``scrypt$n$r$p$
salt$digest``), never the key: `podium keys create` prints it once. scrypt takes tens of
milliseconds on purpose, so a verified key is remembered by its SHA-256 for the life of the
process and the hash is computed once per key, not per request. Revocation is seen at once by
the server that revoked it, and by the others within `KEY_RECHECK` seconds.

A JWT (``Authorization: Bearer <token>``) is checked with the configured HS256 secret or
RS256/ES256 public key only (``alg: none`` and any other algorithm are refused), and must
carry ``exp``, the configured ``aud``, and ``role``.

Roles: ``viewer`` reads; ``operator`` also submits, cancels and pauses; ``worker`` reads,
leases and reports tasks and registers itself; ``admin`` does everything, agents and keys too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..stores.service import ROLES, ApiKey

if TYPE_CHECKING:
    from ..stores.base import Store
    from .config import ServerConfig

__all__ = ["Authenticator", "Principal", "hash_key", "new_key", "verify_key"]

PREFIX = "pod_"
KEY_RECHECK = 5.0  # seconds before a cached key's revocation is checked again
_N, _R, _P = 2**14, 8, 1

# what each role may do; routes ask for one of these actions
ACTIONS = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "worker": frozenset({"read", "work"}),
    "admin": frozenset({"read", "operate", "work", "admin"}),
}


@dataclass(slots=True)
class Principal:
    """The caller of a request: a key's id (or a JWT's subject) and its role."""

    id: str
    role: str
    rate_limit: float | None = None

    def may(self, action: str) -> bool:
        return action in ACTIONS.get(self.role, ())


class AuthError(Exception):
    """401 (who are you) or 403 (you may not): turned into a response by the app."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def hash_key(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_key(secret: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        want = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(
            secret.encode(),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def new_key(
    role: str, name: str | None = None, rate_limit: float | None = None
) -> tuple[str, ApiKey]:
    """A new key (shown once) and its record (hashed) for the store."""
    if role not in ROLES:
        raise ValidationError(f"role {role!r} is not one of {', '.join(ROLES)}.", field="role")
    if rate_limit is not None and not rate_limit > 0:
        raise ValidationError(
            "rate_limit must be a positive number of requests per second.", field="rate_limit"
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    record = ApiKey(
        key_id=key_id,
        role=role,
        hash=hash_key(secret),
        name=name,
        rate_limit=rate_limit,
        created_at=time.time(),
    )
    return f"{PREFIX}{key_id}_{secret}", record


class RateLimiter:
    """A token bucket per caller: ``rate`` requests per second, bursts of up to ``rate``."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}  # id -> [tokens, last refill]

    def wait(self, who: str, rate: float, now: float) -> float:
        """0 when the request may go now (and takes a token), else seconds to wait."""
        bucket = self._buckets.get(who)
        burst = max(rate, 1.0)
        if bucket is None:
            bucket = self._buckets[who] = [burst, now]
        tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate


class Authenticator:
    """Turns an ``Authorization`` header into a `Principal`, or raises `AuthError`."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self.store = store
        self.config = config
        self.limiter = RateLimiter()
        self._verified: dict[bytes, tuple[ApiKey, float]] = {}  # sha256(key) -> record, checked
        self._verifying: dict[bytes, Any] = {}  # one scrypt per key, however many ask at once

    async def authenticate(self, header: str | None) -> Principal:
        if self.config.insecure_no_auth:
            return Principal("local", "admin")
        if not header:
            raise AuthError(401, "credentials required: send 'Authorization: Bearer <key>'.")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "use 'Authorization: Bearer <API key or JWT>'.")
        if token.startswith(PREFIX):
            return await self._key(token)
        if self.config.jwt_secret or self.config.jwt_public_key:
            return self._jwt(token)
        raise AuthError(401, "invalid API key.")

    async def _key(self, token: str) -> Principal:
        fp = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        cached = self._verified.get(fp)
        if cached is not None and now - cached[1] < KEY_RECHECK:
            record = cached[0]
        else:
            key_id, _, secret = token[len(PREFIX) :].partition("_")
            record = await self.store.get_key(key_id) if key_id and secret else None
            if record is None:
                raise AuthError(401, "invalid API key.")
            if cached is None:
                import asyncio

                pending = self._verifying.get(fp)
                if pending is None:
                    # scrypt is slow on purpose: off the event loop, once per key
                    pending = asyncio.ensure_future(
                        asyncio.to_thread(verify_key, secret, record.hash)
                    )
                    self._verifying[fp] = pending
                    pending.add_done_callback(lambda _: self._verifying.pop(fp, None))
                if not await asyncio.shield(pending):
                    raise AuthError(401, "invalid API key.")
            self._verified[fp] = (record, now)
        if record.revoked_at is not None:
            raise AuthError(401, "this API key was revoked.")
        return Principal(f"key:{record.key_id}", record.role, record.rate_limit)

    def forget(self, key_id: str) -> None:
        """A key was revoked here: stop trusting it at once."""
        for fp, (record, _) in list(self._verified.items()):
            if record.key_id == key_id:
                del self._verified[fp]

    def _jwt(self, token: str) -> Principal:
        import jwt

        cfg = self.config
        if cfg.jwt_public_key:
            key: Any = cfg.jwt_public_key
            algorithms = ["RS256", "ES256"]
        else:
            key, algorithms = cfg.jwt_secret, ["HS256"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=cfg.jwt_audience,
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "the token has expired.") from None
        except jwt.InvalidAudienceError:
            raise AuthError(401, "the token is not for this audience (aud).") from None
        except jwt.PyJWTError as exc:
            raise AuthError(401, f"invalid token: {exc}.") from None
        role = claims.get("role")
        if role not in ROLES:
            raise AuthError(
                403, f"the token's role claim must be one of {', '.join(ROLES)}, not {role!r}."
            )
        return Principal(f"jwt:{claims.get('sub') or '?'}", role)

    def check_rate(self, who: Principal) -> float:
        """Seconds the caller must wait (0: go on) under its rate limit."""
        rate = who.rate_limit or self.config.rate_limit
        if not rate:
            return 0.0
        return self.limiter.wait(who.id, rate, time.monotonic())


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
