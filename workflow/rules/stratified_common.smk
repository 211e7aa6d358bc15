# Helpers of the stratified campaigns' rules (workflow/rules/stratified.smk).

import dnnfi.stratified_campaign as stratified_design

STRATIFIED = [
    c
    for c, spec in CAMPAIGNS.items()
    if spec["kind"] == "activation" and spec["stratified"]
]


def is_stratified(campaign):
    return campaign in STRATIFIED


def stratified_dir(campaign, dataset, model, population, round_):
    return f"results/campaigns/{campaign}/{dataset}/{model}/{population}/round-{round_}"


def round_shards(campaign, dataset, model, population, round_):
    shards = range(CAMPAIGNS[campaign]["shards"])
    folder = stratified_dir(campaign, dataset, model, population, round_)
    return [f"{folder}/shard-{s}.parquet" for s in shards]


def stratified_shard_files(wildcards):
    """collect_model: every shard of every round and population of a model."""
    spec = CAMPAIGNS[wildcards.campaign]
    return [
        f
        for p in stratified_design.populations(spec)
        for r in range(stratified_design.n_rounds(spec["stratified"]))
        for f in round_shards(
            wildcards.campaign, wildcards.dataset, wildcards.model, p, r
        )
    ]


def stratified_earlier(wildcards):
    """A round's draw job reads the outcomes of the rounds before it."""
    w = wildcards
    return [
        f
        for r in range(int(w.round))
        for f in round_shards(w.campaign, w.dataset, w.model, w.population, r)
    ]


def stratified_strata(wildcards):
    """The strata tables (weights) of a campaign, per model and population."""
    spec = CAMPAIGNS[wildcards.campaign]
    return [
        f"{stratified_dir(wildcards.campaign, MODELS[m]['dataset'], m, p, 0)}/strata.parquet"
        for m in spec["models"]
        for p in stratified_design.populations(spec)
    ]


STRATIFIED_KEYS = [
    "images",
    "batch_size",
    "cache_mb",
    "fault_model",
    "bits",
    "sampling",
    "image_sampling",
    "stratified",
    "margin",
    "confidence",
    "shards",
]


def stratified_params(wildcards):
    spec = CAMPAIGNS[wildcards.campaign]
    params = {k: spec[k] for k in STRATIFIED_KEYS}
    return params | {"seed": config["seed"], "campaign": wildcards.campaign}


def stratified_outputs(campaign):
    return [f"results/tables/{campaign}/stratified.{ext}" for ext in ("csv", "md")] + [
        f"results/figures/{campaign}/stratified.{ext}" for ext in ("png", "pdf")
    ]
