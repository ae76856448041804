"""Checks that need more than one key: ``[sla]`` and ``[strategy]`` keys must act on something
in play, the risk model must give finite factors, and, once the path's length is known
(:func:`check_time_on_book`, :func:`check_commitments_fit`), the LPs must fit on it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..mechanism.rules import SLA_KEYS_ALSO_READ_BY
from .model import Config, LPConfig, values_in_play
from .schema import MAGNITUDE


def check_sla_keys(params: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """An ``[sla]`` key the config gives must act on something in play: the SLA
    (``[mechanism] sla = "on"`` in some scenario), or for ``epoch_days`` and
    ``early_exit_penalty`` also ``exit_rule = "penalty"``, for ``price_range`` also
    ``liquidity_score = "probability"``. A config written when ``commitment_min_time_fraction >
    0`` switched the SLA on must fail here, not run without its SLA."""
    if "on" in values_in_play(params["sla"]):
        return
    for key, value in given.items():
        others = SLA_KEYS_ALSO_READ_BY.get(key, ())
        if any(v in values_in_play(params[rule]) for rule, v in others):
            continue
        readers = "".join(f" or {rule} = {v!r}" for rule, v in others)
        raise ConfigError(
            f"[sla] {key}",
            _plain_value(value),
            f"acts only where the SLA is on{readers}, and it is off here: set [mechanism] "
            'sla = "on" (or preset = "vega"), or drop the key',
        )


def _plain_value(value: Any) -> Any:
    """A key's value as the config gave it (a tuple of swept values as a list)."""
    return list(value) if isinstance(value, tuple) else value


def check_risk(params: Mapping[str, Any]) -> None:
    """The log-normal risk model must give finite risk factors, of a size the engine keeps
    finite (:data:`MAGNITUDE`), for every value of ``[risk] mu, sigma, tau, lambd`` in play.

    ``|rf_long| <= exp(mu * tau)`` and ``|rf_short| <= 1 + exp(mu * tau) / lambd`` (the tails
    they divide are probabilities, at most 1): an exact bound from the largest ``mu * tau`` and
    the smallest ``lambd``. The corners of the values in play are then evaluated, to catch what
    the bound does not (a ``lambd`` so small that ``1 - lambd`` rounds to 1).
    """
    from statistics import StatisticsError

    from ..mechanism.risk import risk_factors

    mus, sigmas, taus, lambds = (values_in_play(params[k]) for k in ("mu", "sigma", "tau", "lambd"))
    mu_tau, mu, tau = max(
        (m * t, m, t) for m in (min(mus), max(mus)) for t in (min(taus), max(taus))
    )
    lambd = min(lambds)
    if lambd < 2**-52:
        raise ConfigError(
            "[risk] lambd",
            lambd,
            "is too small for the risk model, which needs 1 - lambd in "
            f"double precision: lambd must be at least {2**-52:.3g}",
        )
    limit = math.log(MAGNITUDE)
    if mu_tau - math.log(lambd) > limit:
        bound = f"exp(mu * tau) / lambd = e^{mu_tau - math.log(lambd):.4g}"
        why = (
            f"risk factors would reach {bound}, beyond {MAGNITUDE:g} "
            f"(mu * tau - ln(lambd) must be at most {limit:.4g})"
        )
        if mu_tau >= -math.log(lambd):
            raise ConfigError("[risk] mu", mu, f"with [risk] tau = {tau:g}: {why}")
        raise ConfigError("[risk] lambd", lambd, why)
    for m in {min(mus), max(mus)}:
        for s in {min(sigmas), max(sigmas)}:
            for t in {min(taus), max(taus)}:
                for lam in {min(lambds), max(lambds)}:
                    try:
                        factors = risk_factors(m, s, t, lam)
                    except (ArithmeticError, ValueError, StatisticsError) as exc:
                        raise ConfigError(
                            "[risk] lambd",
                            lam,
                            f"the risk model cannot use it with mu = {m:g}, "
                            f"sigma = {s:g}, tau = {t:g} ({exc})",
                        ) from None
                    if not all(math.isfinite(f) for f in factors):
                        raise ConfigError(
                            "[risk] lambd",
                            lam,
                            f"gives risk factors {factors} with mu = {m:g}, "
                            f"sigma = {s:g}, tau = {t:g}",
                        )


def _check_strategy(
    params: dict[str, Any], follows: dict[str, tuple[str, tuple]], given: dict[str, Any],
    lps: tuple[LPConfig, ...],
) -> None:  # fmt: skip
    """``[strategy]`` keys act only on hurdle LPs, and ``exit_hurdle <= hurdle`` in every
    scenario: a config that leaves with a return above the one that brought it in would enter
    and leave at once."""
    if given and not any(lp.hurdle for lp in lps):
        key = next(iter(given))
        raise ConfigError(
            f"[strategy] {key}", given[key], 'acts only on LPs with strategy = "hurdle", and '
            "no [[lp]] has it: add one or drop the [strategy] keys",
        )  # fmt: skip
    hurdles, exits = params["hurdle"], params["exit_hurdle"]
    same = follows.get("hurdle", ("", ()))[0] == follows.get("exit_hurdle", (None, ()))[0]
    pairs: Iterable[tuple[Any, Any]]
    if same:  # both sampled: row by row
        pairs = zip(follows["hurdle"][1], follows["exit_hurdle"][1], strict=True)
    else:  # a grid (or one sampled against the other's values): every combination
        pairs = [(h, x) for h in values_in_play(hurdles) for x in values_in_play(exits)]
    for h, x in pairs:
        if x > h:
            raise ConfigError(
                "[strategy] exit_hurdle", x, f"must be <= hurdle ({h!r} in the same scenario)"
            )


def n_epochs(n_days: int, epoch_days: int) -> int:
    """Epochs of a path of ``n_days`` days: ``ceil(n_days / epoch_days)`` (the last may be
    shorter)."""
    return -(-n_days // epoch_days)


def check_time_on_book(config: Config, n_days: int) -> None:
    """A ``time_on_book`` list must give one value per epoch, for every ``epoch_days`` value
    of the sweep, on a path of ``n_days`` days."""
    for lp in config.lps:
        behaviour = lp.time_on_book
        if behaviour.kind != "list":
            continue
        for epoch_days in values_in_play(config.params["epoch_days"]):
            expected = n_epochs(n_days, epoch_days)
            if len(behaviour.values) != expected:
                raise ConfigError(
                    f"[[lp]] {lp.name} time_on_book",
                    list(behaviour.values),
                    f"has {len(behaviour.values)} values but the path has {expected} epochs "
                    f"({n_days} days, [sla] epoch_days = {epoch_days}); give one per epoch",
                )


def check_commitments_fit(config: Config, n_days: int) -> None:
    """Commitment days must fall on the path: 0 <= day and ceil(day) <= last day."""
    for lp in config.lps:
        for j, c in enumerate(lp.commit):
            if math.ceil(c.day) > n_days - 1:
                raise ConfigError(
                    f"[[lp]] {lp.name} commit[{j}] day",
                    c.day,
                    f"is outside the path (days 0..{n_days - 1})",
                )
