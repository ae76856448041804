"""The resolver: each stage's sweep dimensions under a config.

From the stage table (:mod:`sweep.engine.stages`: what each stage reads) and the rule values a
config puts in play, :func:`resolve` gives each stage its *axes*, the sweep dimensions it depends
on, the stages it reads, the swept keys behind its numbers, and the outputs nothing in play makes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..mechanism.rules import RULES
from ..mechanism.variables import VARIABLES, in_play
from .stages import STAGE_OF, STAGES

PATH = "<path>"  # in Resolved.keys: the stage reads the market path

# parameters computed from others: read them and you depend on these
DERIVED = {
    "rf_long": ("mu", "sigma", "tau", "lambd"),
    "rf_short": ("mu", "sigma", "tau", "lambd"),
}


@dataclass(frozen=True)
class Resolved:
    """The stages of one sweep: each one's axes and the stages it reads (rules in play), and
    the outputs no scenario makes (no rule value that makes them is in play,
    ``Variable.made_by``): a stage computes them as 0, a result leaves them out."""

    axes: dict[str, tuple[int, ...]]
    reads: dict[str, tuple[str, ...]]
    zero: frozenset[str] = frozenset()
    # the swept keys each stage depends on, its own reads and its inputs' (``PATH``: the
    # market path): combinations that agree on them give the same numbers
    keys: dict[str, frozenset[str]] = field(default_factory=dict)

    def needed(self, outputs: Iterable[str]) -> list[str]:
        """The stages that computing ``outputs`` takes, in the order they run."""
        todo = [STAGE_OF[name] for name in outputs if name not in self.zero]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.reads[name])
        return [name for name in STAGES if name in seen]


def resolve(
    param_axes: dict[str, int], path_axes: tuple[int, ...], rules_in_play: dict[str, tuple],
    decides: bool = False,
) -> Resolved:  # fmt: skip
    """Each stage's axes under a config.

    ``param_axes``: the grid axis of every swept non-path key (keys that follow a swept
    preset: the preset's); ``path_axes``: the axes of the market path; ``rules_in_play``: every
    rule key's values in the sweep, and ``"sla"``: ``("off",)``, ``("on",)`` or both.
    ``decides``: hurdle LPs are in play, whose decisions read the fees, which read every key
    and the path: the commitments (and every stage after them) then depend on all of them
    (MECHANISM.md: "they lose the sharing that fixed schedules give").
    """

    def keys_of(keys: Iterable[str]) -> set[str]:
        return {base for key in keys for base in DERIVED.get(key, (key,)) if base in param_axes}

    def axes_of(keys: Iterable[str]) -> set[int]:
        return {param_axes[key] for key in keys_of(keys)}

    axes: dict[str, tuple[int, ...]] = {}
    reads: dict[str, tuple[str, ...]] = {}
    keys: dict[str, frozenset[str]] = {}
    zero: set[str] = set()
    for stage in STAGES.values():  # declared in an order where every stage follows its inputs
        own_keys = keys_of(stage.params)
        steps = list(stage.steps)
        path = stage.path
        if decides and stage.name == "commitments":
            own_keys |= set(param_axes)
            path = True
        extra = [RULES[key].values[value] for key in stage.rules for value in rules_in_play[key]]
        own_keys |= keys_of(stage.rules)
        extra += [reads for key, value, reads in stage.when if value in rules_in_play[key]]
        for value_reads in extra:
            own_keys |= keys_of(value_reads.params)
            steps += [s for s in value_reads.steps if s not in steps and s != stage.name]
            path = path or value_reads.path
        own = {param_axes[key] for key in own_keys}
        if path:
            own |= set(path_axes)
            own_keys.add(PATH)
        for step in steps:
            own |= set(axes[step])
            own_keys |= keys[step]
        axes[stage.name] = tuple(sorted(own))
        reads[stage.name] = tuple(steps)
        keys[stage.name] = frozenset(own_keys)
        zero.update(n for n in stage.outputs if n in VARIABLES and not in_play(n, rules_in_play))
    return Resolved(axes, reads, frozenset(zero), keys)
