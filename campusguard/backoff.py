"""The one backoff policy: doubling from a first wait up to a cap, spread by a random jitter.

Used wherever something is tried again: the agent's and the hub's broker connections, a device's
polls after failures, a supervised task after a crash, ingest after a failed turn, a batch while
the database is away, and a police receiver that did not answer. The jitter keeps a thousand
gateways that lost the same broker from coming back in the same second.
"""

import random

_RNG = random.Random()  # noqa: S311 - spreading retries, not security


def backoff_s(
    attempt: int, first_s: float, max_s: float, *, jitter: float = 0.2, rng: random.Random | None = None
) -> float:
    """The wait before try ``attempt + 1`` after ``attempt`` failures (0-based): ``first_s`` × 2^attempt,
    at most ``max_s``, then multiplied by a random factor in [1 - jitter, 1 + jitter]."""
    base = min(first_s * 2 ** min(max(attempt, 0), 60), max_s)
    if not jitter:
        return float(base)
    return float(base * (rng or _RNG).uniform(1 - jitter, 1 + jitter))
