"""Fault knobs for the sandbox's Meta API: throttling, errors, slowness and usage, per ad account."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

THROTTLES = {
    4: (1504022, "(#4) Application request limit reached"),
    17: (2446079, "(#17) User request limit reached"),
    613: (1487742, "(#613) There have been too many calls from this ad-account. Please wait a bit and try again."),
    80000: (2446079, "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For "
                     "more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."),
    80004: (2446079, "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For "
                     "more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting"
                     "#ads-management."),
}


@dataclass
class FaultRule:
    """One fault switched on for an account: how often it fires, and its parameters."""

    kind: str
    remaining: int | None = None    # next N applicable requests; None = until cleared
    rate: float | None = None       # probability per applicable request (seeded RNG)
    code: int | None = None         # throttle code
    regain_minutes: int = 1         # throttle: estimated_time_to_regain_access
    value: float = 0.0              # slow: seconds; usage: utilisation floor (%)


class MetaFaults:
    """Per-account fault knobs. Keys are ad account ids ("act_123"; "123" is accepted; "*" = every account).

    set(account_id, kind, value=1, *, code=None, regain_minutes=1, count=None):
      error kinds ("throttle", "reduce_data", "transient", "unknown", "expired_token", "missing_permission",
      "async_fail"):
        int value = the next N applicable requests fail; float value in (0, 1] = that share of them (seeded RNG).
        "reduce_data" applies to insights reads only; "async_fail" makes the next N report runs POSTed end in
        "Job Failed". throttle ``code`` is one of 4, 17 (default), 613, 80000, 80004.
      "slow": value = seconds slept before each request (``count`` limits it to the next N requests).
      "usage": value = utilisation floor in % reported by the usage headers (no error).
    """

    ERROR_KINDS = ("throttle", "reduce_data", "transient", "unknown", "expired_token", "missing_permission",
                   "async_fail")
    KINDS = (*ERROR_KINDS, "slow", "usage")

    def __init__(self, seed: int = 0, sleep: Callable[[float], None] = time.sleep):
        self._rules: dict[str, dict[str, FaultRule]] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.sleep = sleep

    @staticmethod
    def _key(account_id: str) -> str:
        return account_id if account_id == "*" or account_id.startswith("act_") else f"act_{account_id}"

    def set(self, account_id: str, kind: str, value: float = 1, *, code: int | None = None,
            regain_minutes: int = 1, count: int | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown Meta fault kind {kind!r}; expected one of {self.KINDS}")
        if kind == "throttle" and code is not None and code not in THROTTLES:
            raise ValueError(f"throttle code must be one of {sorted(THROTTLES)}")
        rule = FaultRule(kind, code=code, regain_minutes=regain_minutes)
        if kind in ("slow", "usage"):
            rule.value, rule.remaining = float(value), count
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("value must be an int count or a float rate")
        elif isinstance(value, int):
            rule.remaining = value
        else:
            rule.rate = float(value)
        with self._lock:
            self._rules.setdefault(self._key(account_id), {})[kind] = rule

    def clear(self, account_id: str | None = None, kind: str | None = None) -> None:
        with self._lock:
            keys = list(self._rules) if account_id is None else [self._key(account_id)]
            for key in keys:
                if kind is None:
                    self._rules.pop(key, None)
                else:
                    self._rules.get(key, {}).pop(kind, None)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [{"account_id": acct, "kind": r.kind, "remaining": r.remaining, "rate": r.rate, "code": r.code,
                     "regain_minutes": r.regain_minutes, "value": r.value}
                    for acct, rules in sorted(self._rules.items()) for r in rules.values()]

    def configure(self, spec: dict) -> None:
        """set() from a JSON object (the admin endpoint's body)."""
        self.set(str(spec["account_id"]), str(spec["kind"]), spec.get("value", 1), code=spec.get("code"),
                 regain_minutes=int(spec.get("regain_minutes", 1)), count=spec.get("count"))

    def take(self, account_id: str, kind: str) -> FaultRule | None:
        """Consume one application of ``kind`` for this account; the rule if it fires now."""
        with self._lock:
            for key in (self._key(account_id), "*"):
                rule = self._rules.get(key, {}).get(kind)
                if rule is None:
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                    return rule
                if rule.rate is not None:
                    if self._rng.random() < rule.rate:
                        return rule
                    continue
                return rule
        return None

    def peek(self, account_id: str, kind: str) -> FaultRule | None:
        with self._lock:
            for key in (self._key(account_id), "*"):
                rule = self._rules.get(key, {}).get(kind)
                if rule is not None and (rule.remaining is None or rule.remaining > 0):
                    return rule
        return None
