"""One retry loop and one error vocabulary for every provider.

The SDKs' own retries are switched off (max_retries=0) so that waits, attempt counts and the
final error are ours: testable, logged, and the same for OpenAI and Anthropic.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from alphalab.config import ModelSettings
from alphalab.models.base import ProviderError, TransientProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")

# 408 timeout, 409 conflict (lock contention), 429 rate limit: the same request can succeed later.
_RETRIABLE_4XX = {408, 409, 429}
_AUTH = {401, 403}
# OpenAI answers an account out of credit with HTTP 429 too, but no wait refills it
_QUOTA_CODES = {"insufficient_quota"}
# where each SDK sends requests without a configured base_url: its env override, else its public API
_SDK_BASE_URLS = {
    "openai": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "openai-compatible": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "anthropic": ("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
}


class RetryPolicy(BaseModel):
    """How long a provider call keeps trying before it gives up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(5, ge=1, description="total tries, the first one included")
    base_delay_s: float = Field(2.0, ge=0, description="first backoff; doubles each retry")
    max_delay_s: float = Field(60.0, ge=0, description="cap on one wait, Retry-After included")
    timeout_s: float = Field(600.0, gt=0, description="per-request timeout handed to the SDK")


class ProviderIdentity(NamedTuple):
    """What an error message names so the user knows what to fix."""

    provider: str
    model: str
    key_env: str | None
    base_url: str

    @classmethod
    def of(cls, provider: str, settings: ModelSettings) -> "ProviderIdentity":
        env, default = _SDK_BASE_URLS.get(provider, ("", ""))
        base_url = settings.base_url or os.environ.get(env) or default
        assert settings.model, "ModelSettings validation guarantees a model name"
        return cls(provider, settings.model, settings.default_key_env(), base_url)

    def where(self) -> str:
        return f"model {self.model} at {self.base_url}"

    def key(self) -> str:
        return self.key_env or "the server's API key (models.*.api_key_env)"


class SdkErrors(NamedTuple):
    """The SDK's exception classes: HTTP status errors and transport (connection, timeout) errors."""

    status: type[Exception]
    connection: type[Exception]


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _backoff(policy: RetryPolicy, retry_index: int) -> float:
    # full jitter keeps concurrent Workers from retrying in lockstep
    return min(policy.max_delay_s, policy.base_delay_s * 2**retry_index * (0.5 + random.random() / 2))


def _detail(exc: Exception) -> str:
    # one line: the CLI prints the error as a single `error: ...` line
    return " ".join(str(getattr(exc, "message", None) or exc).split())[:500]


def _error_codes(exc: Exception) -> set[str]:
    """The error's `code` and `type` as the SDK parsed them, or as the body holds them (bare or under `error`)."""
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    found = [getattr(exc, "code", None), getattr(exc, "type", None)]
    if isinstance(inner, dict):
        found += [inner.get("code"), inner.get("type")]
    return {str(c) for c in found if c}


def is_quota_exhausted(status: int, exc: Exception) -> bool:
    return status == 429 and bool(_error_codes(exc) & _QUOTA_CODES)


def resolve_key(who: ProviderIdentity, default: str | None = None) -> str:
    """The API key from its env var; a ProviderError naming the provider, model, URL and variable when it is unset."""
    key = os.environ.get(who.key_env) if who.key_env else None
    if key:
        return key
    if default is not None:
        return default
    raise ProviderError(f"{who.provider}: no API key for {who.where()}: set the environment variable {who.key_env}")


def permanent_error(who: ProviderIdentity, status: int, exc: Exception) -> ProviderError:
    """The error for a status that retrying cannot fix, phrased as what the user should check."""
    key = who.key()
    if status in _AUTH:
        what, hint = ("authentication failed" if status == 401 else "permission denied"), f"check {key}"
    elif is_quota_exhausted(status, exc):
        what, hint = "quota exhausted", f"add credit or raise the spending limit of the account whose key is {key}"
    elif status == 404:
        what, hint = "not found", f"check the model name and the base_url (key: {key})"
    else:
        what, hint = "request rejected", f"check the model name, the settings sent with it, and {key}"
    return ProviderError(f"{who.provider}: {what} for {who.where()} (HTTP {status}): {hint}. {_detail(exc)}")


def call_with_retry(
    call: Callable[[], T],
    *,
    who: ProviderIdentity,
    errors: SdkErrors,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying transient failures with backoff; translate SDK errors to ProviderError."""
    last = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except errors.status as exc:
            status = int(getattr(exc, "status_code", 0))
            if not (status in _RETRIABLE_4XX or status >= 500) or is_quota_exhausted(status, exc):
                raise permanent_error(who, status, exc) from exc
            last = f"HTTP {status}: {_detail(exc)}"
            response = getattr(exc, "response", None)
            hinted = parse_retry_after(response.headers) if response is not None else None
        except errors.connection as exc:
            last = f"{type(exc).__name__}: {_detail(exc)}"
            hinted = None
        if attempt == policy.attempts:
            break
        wait = min(policy.max_delay_s, hinted) if hinted is not None else _backoff(policy, attempt - 1)
        log.warning("%s: %s on %s; retry %d/%d in %.2f s", who.provider, last, who.where(), attempt,
                    policy.attempts - 1, wait)
        sleep(wait)
    raise TransientProviderError(
        f"{who.provider}: gave up on {who.where()} after {policy.attempts} attempts; last error: {last}"
    )


class SdkModel:
    """What every SDK-backed provider shares: its name, its settings, its retry policy and the retried call."""

    provider = ""
    supports_images = True

    def __init__(self, settings: ModelSettings, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._who = ProviderIdentity.of(self.provider, settings)
        self.settings = settings
        self.name = f"{self.provider}:{settings.model}"
        self.context_window = settings.context_window
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def _call(self, fn: Callable[[], Any], errors: SdkErrors) -> Any:
        return call_with_retry(fn, who=self._who, errors=errors, policy=self.retry, sleep=self._sleep)
