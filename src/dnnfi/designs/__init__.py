"""Campaign designs, registered by name: what a campaign's ``design`` key can say.

Each design is one module of this package (its keys, checks, shard layout, job parameters, job
body and outputs; :class:`dnnfi.designs.base.Design` lists what the workflow asks of it):

============  =========================================================================================
uniform       independent activation faults, a fixed number per model (:mod:`.uniform`)
sequential    the uniform fault list in rounds until the SDC margin is met (:mod:`.sequential`)
bit_sweep     points evaluated at every bit, per-bit tables (:mod:`.bit_sweep`)
stratified    strata, a pilot and Neyman rounds until a target margin, weighted estimates (:mod:`.stratified`)
protected     another campaign's faults replayed with range checkers (:mod:`.protected`)
weight_rate   failure-rate corruption of stored weights, replicas and statistics (:mod:`.weight_rate`)
============  =========================================================================================

Which designs compose is declared once, in :data:`COMPOSES_OVER`; a campaign's design is
carried in its checked spec (``design``, and ``over`` for a composed one), never inferred from
its other keys. Today's flag form (``kind: activation`` with ``sequential``, ``bit_sweep``,
``stratified`` or ``protection`` / ``paired_with``; ``kind: weight_rate``) is still accepted and
translated by :func:`translate`.
"""

from __future__ import annotations

import functools

from dnnfi.designs import bit_sweep, protected, sequential, stratified, uniform, weight_rate
from dnnfi.designs.base import ConfigError, Design

#: every design by its name (the value of a campaign's ``design`` key), in the order of the docs
DESIGNS: dict[str, Design] = {
    d.name: d
    for d in (
        uniform.DESIGN,
        sequential.DESIGN,
        bit_sweep.DESIGN,
        stratified.DESIGN,
        protected.DESIGN,
        weight_rate.DESIGN,
    )
}

#: the only combinations of designs: a campaign of the key's design runs over a campaign (named by
#: ``paired_with``) of one of these designs. A protected campaign replays its pair's shards and
#: judges them with paired tests of independent injections, weighted by the strata over a
#: stratified pair (:meth:`dnnfi.designs.base.Design.paired_table`); the bits of a swept point
#: are not independent injections.
COMPOSES_OVER: dict[str, tuple[str, ...]] = {"protected": ("uniform", "sequential", "stratified")}

#: what the fault-injection rules distinguish: faults in layer outputs or in stored weights
KINDS = ("activation", "weight_rate")

#: today's flag form: the key that names each design (the first one set wins nothing: two is an error)
FLAG_KEYS = {
    "protected": "paired_with",
    "stratified": "stratified",
    "bit_sweep": "bit_sweep",
    "sequential": "sequential",
}


#: keys the flag form accepted on a campaign of a design that never read them: dropped when
#: translating (a campaign in the ``design`` form that sets them stops, naming the key)
FLAG_FORM_UNUSED = {
    "uniform": ("round_size",),
    "bit_sweep": ("round_size",),
    "stratified": ("injections", "per_correct", "per_misclassified", "per_category", "round_size"),
}


def get(name: str) -> Design:
    return DESIGNS[name]


@functools.cache
def _composed(name: str, over: str) -> Design:
    return DESIGNS[name].over(DESIGNS[over])


def of(campaign: dict) -> Design:
    """The design of a checked campaign (composed over its pair's design where it has one)."""
    if campaign.get("over"):
        return _composed(campaign["design"], campaign["over"])
    return DESIGNS[campaign["design"]]


def campaigns_of(campaigns: dict, test) -> list[str]:
    """Names of the checked campaigns whose design passes ``test(design)``."""
    return [name for name, spec in campaigns.items() if test(of(spec))]


def _a(word: str) -> str:
    return "an" if word[0] in "aeio" or (word[0] == "u" and not word.startswith("uni")) else "a"


# ---------------------------------------------------------------------------------------------
# the config: translation of the flag form, schema fragments, composition


def translate(name: str, campaign: dict) -> None:
    """Today's flag form to ``design`` (in place): ``kind: weight_rate`` is ``design:
    weight_rate``; ``kind: activation`` is ``uniform``, or the design its one flag names
    (``sequential: true``, ``bit_sweep: true``, ``stratified: {...}``, ``protection`` /
    ``paired_with``; flags at their off value are dropped, and so are the keys of
    :data:`FLAG_FORM_UNUSED`). ``kind`` beside ``design`` must agree with it. Raises :class:`ConfigError` (one line) for two designs or a wrong ``kind``."""
    if not isinstance(campaign, dict):
        return  # the schema names the problem
    key = f"config key campaigns.{name}"
    for flag in ("sequential", "bit_sweep"):
        if flag in campaign and not isinstance(campaign[flag], bool):
            raise ConfigError(f"{key}.{flag}: expected type boolean, got {campaign[flag]!r}")
    kind = campaign.get("kind")
    if "kind" in campaign and kind not in KINDS:
        raise ConfigError(f"{key}.kind: expected enum {list(KINDS)}, got {kind!r}")
    if "design" in campaign:
        design = DESIGNS.get(campaign["design"])
        if design is not None:  # else the schema names the problem
            for flag in ("sequential", "bit_sweep"):
                if flag in campaign:
                    raise ConfigError(
                        f"{key}.{flag}: the flag form of design {flag}; beside design: {design.name} "
                        "remove it"
                    )
            if "kind" in campaign and kind != design.kind:
                raise ConfigError(
                    f"{key}.kind: design {design.name} is {_a(design.kind)} {design.kind} campaign, "
                    f"got kind {kind}; remove kind (the design says it)"
                )
        campaign.pop("kind", None)
        return
    if "kind" not in campaign:
        raise ConfigError(f"{key}.design: required, one of {', '.join(DESIGNS)}")
    if kind == "weight_rate":
        campaign.pop("kind")
        campaign["design"] = "weight_rate"
        return
    flagged = [
        d
        for d, set_ in (
            (
                "protected",
                campaign.get("paired_with") is not None or campaign.get("protection") is not None,
            ),
            ("stratified", campaign.get("stratified") is not None),
            ("bit_sweep", campaign.get("bit_sweep") is True),
            ("sequential", campaign.get("sequential") is True),
        )
        if set_
    ]
    if len(flagged) > 1:
        first, second = flagged[:2]
        if first == "protected":
            reason = protected.DESIGN.refuse_key(name, campaign, FLAG_KEYS[second])
        else:
            reason = (
                f"{FLAG_KEYS[first]} and {FLAG_KEYS[second]} name two designs ({first}, {second}), and a "
                f"campaign has one; write design: {first} or design: {second}"
            )
        raise ConfigError(f"{key}.{FLAG_KEYS[second]}: {reason}")
    for flag in ("sequential", "bit_sweep"):
        campaign.pop(flag, None)
    for flag in ("stratified", "protection", "paired_with"):
        if flag in campaign and campaign[flag] is None:
            del campaign[flag]
    campaign.pop("kind")
    campaign["design"] = flagged[0] if flagged else "uniform"
    for unused in FLAG_FORM_UNUSED.get(campaign["design"], ()):
        campaign.pop(unused, None)


def schema_defs() -> dict:
    """The ``$defs`` of every design's campaigns (``<design>_campaign``)."""
    return {f"{name}_campaign": design.schema() for name, design in DESIGNS.items()}


def campaign_schema(skeleton: dict) -> dict:
    """A campaign's schema: ``skeleton`` (from the schema file) with the design names and, per
    design, its own keys (if/then, not oneOf: only the named design's keys are accepted and its
    defaults filled in)."""
    out = dict(skeleton)
    out["properties"] = dict(skeleton.get("properties", {}))
    out["properties"]["design"] = dict(
        out["properties"].get("design", {"type": "string"}), enum=list(DESIGNS)
    )
    out["allOf"] = [
        {
            "if": {"required": ["design"], "properties": {"design": {"const": name}}},
            "then": {"$ref": f"#/$defs/{name}_campaign"},
        }
        for name in DESIGNS
    ]
    return out


def foreign_key(name: str, campaign: dict, key: str) -> str | None:
    """The one-line message for ``key`` on a campaign whose design has not that key, when
    another design has it (None when no design has it: an unknown key)."""
    design = DESIGNS.get(campaign.get("design"))
    owners = [d.name for d in DESIGNS.values() if d is not design and key in d.keys]
    if design is None or not owners:
        return None
    allowed = ", ".join(sorted(["design", *design.keys]))
    reason = design.refuse_key(name, campaign, key)
    if reason:
        return f"config key campaigns.{name}.{key}: {reason}"
    return (
        f"config key campaigns.{name}.{key}: not a key of {_a(design.name)} {design.name} campaign (it belongs to "
        f"{', '.join(owners)} campaigns); expected one of {allowed}"
    )


def resolve(campaigns: dict) -> None:
    """After the schema (defaults filled in): give each composed campaign the keys of the
    campaign it runs over (``paired_with``) and that campaign's design (``over``), in place."""
    for name, spec in campaigns.items():
        allowed = COMPOSES_OVER.get(spec["design"])
        if allowed is None:
            continue
        pair = spec["paired_with"]
        other = campaigns.get(pair)
        if other is None or other["design"] not in allowed:
            candidates = sorted(c for c, s in campaigns.items() if s["design"] in allowed)
            got = f"{pair!r}" + (f" (design {other['design']})" if other is not None else "")
            expected = (
                ", ".join(allowed[:-1]) + f" or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
            )
            raise ConfigError(
                f"config key campaigns.{name}.paired_with: expected a campaign of design "
                f"{expected}, one of {candidates}, got {got}"
            )
        DESIGNS[spec["design"]].inherit(name, spec, other)
        spec["over"] = other["design"]


__all__ = [
    "COMPOSES_OVER",
    "DESIGNS",
    "KINDS",
    "ConfigError",
    "Design",
    "campaign_schema",
    "campaigns_of",
    "foreign_key",
    "get",
    "of",
    "resolve",
    "schema_defs",
    "translate",
]
