"""The growing delays of failed sign-ins (pure policy; the Redis part is tested in tests/security)."""

from services.gateway.login_throttle import ThrottlePolicy


def test_free_failures_then_doubling_up_to_the_cap() -> None:
    policy = ThrottlePolicy(free_failures=5, base_delay_s=30, max_delay_s=900)
    assert [policy.delay_after(n) for n in range(1, 5)] == [0, 0, 0, 0]
    assert [policy.delay_after(n) for n in range(5, 11)] == [30, 60, 120, 240, 480, 900]
    assert policy.delay_after(10_000) == 900  # no overflow however long the guessing goes on
