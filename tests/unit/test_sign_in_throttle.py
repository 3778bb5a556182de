"""The sign-in throttle's rules (issue 18, finding 7) on a clock the test moves: failures per username and per
client in a sliding window, checks still running counted, the right password refused while over, a success
clearing its username only, and memory that forgets what left the window. The same rules over real HTTP
are tests/security/test_sign_in_throttle.py."""

from __future__ import annotations

import pytest

from tanhui.errors import TooManyAttempts
from tanhui.sign_in import PEOPLE, SignInThrottle, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(throttle: SignInThrottle, client: str, username: str | None) -> int:
    with pytest.raises(TooManyAttempts) as raised:
        throttle.begin(PEOPLE, client, username)
    assert raised.value.http_status == 429 and raised.value.code == "too_many_attempts"
    return raised.value.retry_after


def test_a_username_over_its_failures_is_refused_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = SignInThrottle(per_username=3, per_client=100, window_s=60, clock=clock)
    for i in range(3):
        throttle.begin(PEOPLE, f"10.0.0.{i}", "alice").failed()  # three addresses: the username's count
        clock.now += 10
    # 30 s after the first failure: refused (even the right password never gets checked) for 30 s more
    assert refused(throttle, "10.0.0.9", "alice") == 30
    assert refused(throttle, "10.0.0.9", " ALICE ") == 30  # the same username, however typed
    throttle.begin(PEOPLE, "10.0.0.9", "bob").succeeded()  # another username from anywhere: unaffected
    clock.now += 29
    assert refused(throttle, "10.0.0.9", "alice") == 1
    clock.now += 1
    throttle.begin(PEOPLE, "10.0.0.9", "alice").succeeded()  # the window passed: the right password works
    # and the success cleared alice's failures: three more are allowed before the next refusal
    for _ in range(3):
        throttle.begin(PEOPLE, "10.0.0.9", "alice").failed()
    assert refused(throttle, "10.0.0.9", "alice") == 60


def test_a_client_over_its_failures_is_refused_for_every_username_and_a_success_does_not_clear_it() -> None:
    clock = Clock()
    throttle = SignInThrottle(per_username=100, per_client=4, window_s=60, clock=clock)
    for i in range(3):
        throttle.begin(PEOPLE, "203.0.113.7", f"user{i}").failed()
    throttle.begin(PEOPLE, "203.0.113.7", "mine").succeeded()  # a right password from the same address
    throttle.begin(PEOPLE, "203.0.113.7", "user3").failed()
    assert refused(throttle, "203.0.113.7", "mine") == 60
    throttle.begin(PEOPLE, "203.0.113.8", "mine").succeeded()  # another address: unaffected


def test_checks_still_running_count_so_a_burst_cannot_slip_past() -> None:
    throttle = SignInThrottle(per_username=100, per_client=5, window_s=60, clock=Clock())
    running = [throttle.begin(PEOPLE, "198.51.100.1", f"u{i}") for i in range(5)]
    assert refused(throttle, "198.51.100.1", "u9") == 1  # five checks in flight fill the limit
    running[0].abandoned()  # a check that ended without a verdict (bad input, a crash) frees its place
    throttle.begin(PEOPLE, "198.51.100.1", "u9").failed()
    for attempt in running[1:]:
        attempt.failed()
    assert refused(throttle, "198.51.100.1", "u10") == 60


def test_memory_forgets_what_left_the_window() -> None:
    clock = Clock()
    throttle = SignInThrottle(per_username=10, per_client=10_000, window_s=60, clock=clock)
    for i in range(3000):
        throttle.begin(PEOPLE, f"10.1.{i // 250}.{i % 250}", f"guess{i}").failed()
    assert throttle.tracked() > 3000
    clock.now += 61
    for _ in range(2048):  # the periodic sweep runs as attempts arrive
        throttle.begin(PEOPLE, "10.9.9.9", "someone").succeeded()
    assert throttle.tracked() <= 2


def test_clients_are_counted_by_address_and_ipv6_by_its_64() -> None:
    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key(None) == "unknown"
