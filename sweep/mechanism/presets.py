"""Mechanism presets: named sets of rule and SLA keys (docs/mechanism.rst, "Presets").

``[mechanism] preset`` picks one (or, as a list, makes a ``preset`` sweep dimension). A preset
maps config keys, without their section (``share_rule``, ``sla``), to
values; a key it does not set keeps its default, and a key the config gives explicitly wins
over the preset. The values are checked with the keys' own checks when a config uses them
(:mod:`sweep.config`), so a preset can never set what the key itself would refuse.

- ``"tools"`` (default): the Markets and Liquidity Programme tools (2020-21); sets nothing, so
  every key keeps its default.
- ``"vega_2021"``: Vega's 2021 protocol (specs 0019, 0034, 0038, 0041, 0042, 0044).
- ``"vega"``: Vega as it runs today (core v0.7x, 2023-24), with the SLA on (``sla = "on"``;
  its ``[sla]`` keys keep their defaults, core's: ``commitment_min_time_fraction = 0.95``).
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, object]] = {
    "tools": {},
    "vega_2021": {
        "risk_factor": "max",
        "target_price": "mark",
        "share_rule": "entry_valuation",
        "low_probability": "clip",
        "margin_orders": "all",
        "exit_rule": "reject_below_target",
    },
    "vega": {
        "risk_factor": "max",
        "target_price": "mark",
        "share_rule": "virtual_stake",
        "volume_rule": "notional",
        "margin_orders": "all",
        "liquidity_score": "probability",
        "exit_rule": "penalty",
        "sla": "on",
    },
}
