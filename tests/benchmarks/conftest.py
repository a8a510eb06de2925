"""Prints the ratios the performance targets are stated in, after ``make bench``.

Benchmarks tag themselves with ``extra_info["case"]``; this hook looks the
medians up by case and prints each ratio with its target. Machines here are
shared and noisy, so only ratios measured in one run are meaningful.
"""

from __future__ import annotations

import platform
from typing import Any

import pytest

# (label, numerator cases, denominator cases, target: one, or per algorithm)
RATIOS: list[tuple[str, tuple[str, ...], tuple[str, ...], float | dict[str, float]]] = [
    (
        "{alg}: cache hit overhead / jwt.decode",
        ("hit-{alg}", "bare-{alg}"),
        ("decode-{alg}",),
        {"HS256": 0.025, "RS256": 0.05, "ES256": 0.05},
    ),
    (
        "{alg}: cache miss overhead / jwt.decode",
        ("miss-{alg}", "bare-{alg}"),
        ("decode-{alg}",),
        {"HS256": 0.35, "RS256": 1.15, "ES256": 1.15},
    ),
    (
        "Flask: jwt_wsgi added cost / flask-jwt-extended added cost",
        ("flask-jwt_wsgi", "flask-bare"),
        ("flask-jwt-extended", "flask-bare"),
        1 / 50,
    ),
]


RIVALS = ("flask-jwt_wsgi", "flask-jwt-extended")


def _target(ratio: float, goal: float) -> str:
    """``target <= goal: met`` (or ``MISSED``), for a printed ratio.

    A negative ratio means the guarded case measured faster than the bare
    one: the machine's noise, which proves nothing either way.
    """
    if ratio < 0:
        return f"target <= {goal:.4f}: no verdict, below zero is noise"
    return f"target <= {goal:.4f}: {'met' if ratio <= goal else 'MISSED'}"


def _cost(medians: dict[str, float], cases: tuple[str, ...]) -> float | None:
    if any(case not in medians for case in cases):
        return None
    return medians[cases[0]] - (medians[cases[1]] if len(cases) > 1 else 0.0)


#: Why a scaling ratio may exceed 1.2 (see test_scaling.py).
INHERENT = {
    "paths": "past the routing memo each path is canonicalised and routed",
    "tokens-x-cache": "past the cache each request verifies a signature",
}


def _scaling(write: Any, extra: dict[str, dict[str, Any]]) -> None:
    """Per dimension, each size's best interleaved round over the smallest size's."""
    for _case, info in sorted(extra.items()):
        if "scale" not in info:
            continue
        dimension, by_size = info["scale"]
        by_size = {int(size): seconds for size, seconds in by_size.items()}
        smallest = min(by_size)
        for size in sorted(by_size)[1:]:
            ratio = by_size[size] / by_size[smallest]
            verdict = "flat" if ratio <= 1.2 else INHERENT.get(dimension, "NOT FLAT")
            write(
                f"  scaling {dimension}: {size} / {smallest}: {ratio:6.2f}  "
                f"({by_size[smallest] * 1e6:.2f} -> {by_size[size] * 1e6:.2f} us, best of "
                f"interleaved rounds; {verdict})"
            )


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    session = getattr(terminalreporter.config, "_benchmarksession", None)
    if session is None or session.disabled:
        return
    medians: dict[str, float] = {}
    extra: dict[str, dict[str, Any]] = {}
    for bench in session.benchmarks:
        case = bench.extra_info.get("case")
        if case and bench.stats:
            medians[case] = bench.stats.median
            extra[case] = bench.extra_info
    write = terminalreporter.write_line
    write("")
    write(
        f"jwt_wsgi ratios (medians of this run; {platform.processor() or platform.machine()},"
        f" {platform.python_implementation()} {platform.python_version()})"
    )
    for label, top, bottom, goal in RATIOS:
        for alg in ("HS256", "RS256", "ES256") if "{alg}" in label else ("",):
            num = _cost(medians, tuple(c.format(alg=alg) for c in top))
            den = _cost(medians, tuple(c.format(alg=alg) for c in bottom))
            if num is None or den is None or den <= 0:
                continue
            ratio = num / den
            target = goal[alg] if isinstance(goal, dict) else goal
            write(f"  {label.format(alg=alg):62s} {ratio:8.4f}  ({_target(ratio, target)})")
    for case, info in sorted(extra.items()):
        if "rss_growth_mib" in info:
            write(
                f"  {case}: {info['tokens']} distinct tokens grew RSS by "
                f"{info['rss_growth_mib']:.1f} MiB; cache held {info['cache_entries']} entries"
            )
    for case, info in sorted(extra.items()):
        if "p99_us" in info:
            verdict = ""
            if "made_up" in info:
                met = "met" if info["max_us"] < 300_000 else "MISSED"
                verdict = f" (target max < 300 ms: {met}; {info['made_up']} made-up-kid requests)"
            write(
                f"  {case}: {info['requests']} known-kid requests, p50 {info['p50_us']:.1f} us, "
                f"p99 {info['p99_us']:.1f} us, max {info['max_us']:.0f} us{verdict}"
            )
    paired = extra.get("hit-decode-interleaved", {}).get("interleaved_us")
    if paired:
        ratio = (paired["hit"] - paired["bare"]) / paired["decode"]
        write(
            f"  HS256: cache hit overhead / jwt.decode, interleaved: {ratio:.4f} "
            f"({_target(ratio, 0.025)}; best of rounds: bare {paired['bare']:.2f} us, "
            f"hit {paired['hit']:.2f} us, jwt.decode {paired['decode']:.1f} us)"
        )
        cold = (paired["miss"] - paired["bare"]) / paired["decode"]
        write(
            f"  HS256: cache miss overhead / jwt.decode, interleaved: {cold:.4f} "
            f"({_target(cold, 0.35)}; best of rounds: miss {paired['miss']:.2f} us)"
        )
        hit, floor = paired["hit"] - paired["bare"], paired["floor"] - paired["bare"]
        write(
            f"  HS256: floor reference overhead / jwt.decode, same rounds: "
            f"{floor / paired['decode']:.4f} (the hit's work alone in plain Python: "
            f"+{floor:.2f} us; the hit is +{hit:.2f} us, {hit / floor:.2f}x it)"
        )
        bare_cache = paired["cache-only"] - paired["bare"]
        write(
            f"  HS256: cache-only reference overhead / jwt.decode, same rounds: "
            f"{bare_cache / paired['decode']:.4f} (routing and the token cache with no other "
            f"step: +{bare_cache:.2f} us, {bare_cache / floor:.2f}x the floor)"
        )
    flask = extra.get("flask-interleaved", {}).get("interleaved_us")
    if flask:
        ours, theirs = (flask[kind] - flask["flask-bare"] for kind in RIVALS)
        write(
            f"  Flask: jwt_wsgi added cost / flask-jwt-extended added cost, interleaved: "
            f"{ours / theirs:.4f} ({_target(ours / theirs, 1 / 50)}; best of rounds: bare "
            f"{flask['flask-bare']:.1f} us, jwt_wsgi +{ours:.1f} us, flask-jwt-extended "
            f"+{theirs:.1f} us)"
        )
        floor = flask["flask-floor"] - flask["flask-bare"]
        write(
            f"  Flask: floor reference added cost / flask-jwt-extended added cost, same rounds: "
            f"{floor / theirs:.4f} (the hit's work alone, inside Flask: +{floor:.1f} us; "
            f"jwt_wsgi adds {ours / floor:.2f}x that)"
        )
    located = extra.get("hit-by-location")
    if located:
        times = ", ".join(f"{k} {v:.2f} us" for k, v in located["interleaved_us"].items())
        ratio = located["cookie_over_header"]
        write(
            f"  cookie token hit / header token hit, overhead over a bare app, interleaved: "
            f"{ratio:.3f} ({_target(ratio, 1.10)}; best of rounds: {times})"
        )
    healthy, hanging = extra.get("refresh-healthy"), extra.get("refresh-hanging")
    if healthy and hanging:
        write(
            "  key server hanging / healthy, p99 of known-kid requests: "
            f"{hanging['p99_us'] / healthy['p99_us']:.2f}"
        )
    checked = extra.get("hit-revocation", {}).get("revocation_us")
    if checked:
        for store in ("memory", "redis-mirror", "redis-rtt"):
            write(
                f"  revocation check on a cache hit, {store:12s}: "
                f"+{checked[store] - checked['none']:6.2f} us over a hit without it "
                f"({checked[store] / checked['none']:5.2f}x the hit; best of interleaved rounds)"
            )
    dpop = extra.get("dpop", {}).get("dpop_us")
    if dpop:
        miss = dpop["bearer-miss"] - dpop["bare"]
        write(
            f"  bearer cache miss (ES256 token): +{miss:.1f} us over a bare app; "
            f"bearer cache hit: +{dpop['bearer-hit'] - dpop['bare']:.1f} us"
        )
        for case in ("dpop-hit", "dpop-nonce", "dpop-redis"):
            added = dpop[case] - dpop["bearer-hit"]
            write(
                f"  DPoP proof (ES256) added to a cached token, {case:10s}: +{added:6.1f} us, "
                f"{added / miss:5.2f}x a bearer miss's cost (best of interleaved rounds)"
            )
    writes = extra.get("replicated-writes", {}).get("write_us")
    if writes:
        for kind in ("revoke", "first_use"):
            alone, waited = writes[f"{kind}-0"], writes[f"{kind}-1"]
            write(
                f"  {kind}() waiting for 1 replica (WAIT): {waited:.1f} us against "
                f"{alone:.1f} us without, +{waited - alone:.1f} us ({waited / alone:.2f}x; "
                "loopback, best of interleaved rounds)"
            )
    _scaling(write, extra)
    spread = extra.get("propagation")
    if spread and "all_p99_ms" in spread:
        verdict = "met" if spread["all_p99_ms"] <= 50 else "MISSED"
        write(
            f"  revoke() to refusal in all {spread['workers']} gunicorn workers, "
            f"{spread['rounds']} rounds: p50 {spread['all_p50_ms']:.2f} ms, "
            f"p99 {spread['all_p99_ms']:.2f} ms (target p99 <= 50 ms: {verdict}); "
            f"each worker: p50 {spread['each_p50_ms']:.2f} ms, p99 {spread['each_p99_ms']:.2f} ms"
        )
    for case in sorted(medians):
        if not {"p99_us", "all_p99_ms", "scale", "write_us"} & set(extra.get(case, {})):
            write(f"  median {case:28s} {medians[case] * 1e6:10.2f} us")
