"""No silent skips in CI: with IMGSERVE_REQUIRE_ALL=1 (`.ci/run` sets it) every skip is a failure.

A test skips where something it needs is missing (Chromium for the browser test, openssl for the TLS
test's certificate, an optional package). That is a convenience on a developer's machine and a hole in
CI, where `-ra` prints one line and the run stays green. So in CI a skip fails the run, saying what was
missing and what to install (the skip's own reason says it). Loaded as a plugin by tests/conftest.py.
"""

from __future__ import annotations

import os

import pytest

# Read at import: the autouse fixture in tests/conftest.py clears IMGSERVE_* while each test runs.
REQUIRE_ALL = os.environ.get("IMGSERVE_REQUIRE_ALL") == "1"


def _fail_if_skipped(report: pytest.TestReport | pytest.CollectReport, what: str) -> None:
    if not (REQUIRE_ALL and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"{what} skipped ({reason.removeprefix('Skipped: ')}), and IMGSERVE_REQUIRE_ALL=1 "
                       "(set by .ci/run) allows no skip: install what it names, or run without that variable")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    _fail_if_skipped(report, item.nodeid)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    _fail_if_skipped(report, collector.nodeid or "collection")
    return report
