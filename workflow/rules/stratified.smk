# Stratified campaigns (design stratified, dnnfi.designs.stratified): per model and population,
# round 0 (the pilot) and allocation rounds 1..R chained like sequential rounds: round r's draw
# job reads the outcomes of rounds 0..r-1, draws the whole round centrally (or nothing once the
# target margin is met), and `shards` jobs cut it. The design gives the files and parameters.


rule stratified_pilot:
    input:
        model=model_input,
        test=TEST_SPLIT,
        images=EVALUATED,
        baseline=BASELINE,
        taxonomy=lambda w: taxonomy_file(w.dataset),
    output:
        faults=f"{ROUND_0}/faults.parquet",
        strata=f"{ROUND_0}/strata.parquet",
    log:
        "results/logs/stratified/{campaign}/{dataset}/{model}/{population}/round-0.log",
    benchmark:
        "results/benchmarks/stratified/{campaign}/{dataset}/{model}/{population}/round-0.tsv"
    wildcard_constraints:
        campaign=STRATIFIED,
        population=POPULATIONS,
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("draw"),
        runtime=model_runtime("draw"),
        gpu=gpus,
    params:
        campaign=stratified_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/stratified_draw.py"


use rule stratified_pilot as stratified_draw with:
    input:
        model=model_input,
        test=TEST_SPLIT,
        images=EVALUATED,
        baseline=BASELINE,
        taxonomy=lambda w: taxonomy_file(w.dataset),
        earlier=stratified_earlier,
        strata=f"{ROUND_0}/strata.parquet",
        pilot_faults=f"{ROUND_0}/faults.parquet",
    output:
        faults=f"{STRATIFIED_ROUND}/faults.parquet",
    log:
        "results/logs/stratified/{campaign}/{dataset}/{model}/{population}/round-{round}.log",
    benchmark:
        "results/benchmarks/stratified/{campaign}/{dataset}/{model}/{population}/round-{round}.tsv"
    wildcard_constraints:
        campaign=STRATIFIED,
        population=POPULATIONS,
        round=r"[1-9]\d*",


rule stratified_inject:
    input:
        model=model_input,
        test=TEST_SPLIT,
        images=EVALUATED,
        faults=f"{STRATIFIED_ROUND}/faults.parquet",
    output:
        f"{STRATIFIED_ROUND}/shard-{{shard}}.parquet",
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/{population}/round-{round}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/{population}/round-{round}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=STRATIFIED,
        population=POPULATIONS,
        round=r"\d+",
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("inject"),
        runtime=model_runtime("inject"),
        gpu=gpus,
    params:
        campaign=stratified_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/stratified_inject.py"


# A protected campaign over a stratified one (design protected): each round's shard replayed
# with the protection, the paired campaign's empty rounds (after its stop) as they are.
rule stratified_replay:
    input:
        model=model_input,
        test=TEST_SPLIT,
        images=EVALUATED,
        baseline=BASELINE,
        paired=replayed_round_shard,
        bounds=bounds_file,
    output:
        f"{STRATIFIED_ROUND}/shard-{{shard}}.parquet",
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/{population}/round-{round}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/{population}/round-{round}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=STRATIFIED_REPLAYS,
        population=POPULATIONS,
        round=r"\d+",
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("inject"),
        runtime=model_runtime("inject"),
        gpu=gpus,
    params:
        campaign=stratified_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_activation.py"


rule stratified_table:
    input:
        injections=campaign_models,
        strata=stratified_strata,
        baselines=campaign_baselines,
        evaluated=campaign_evaluated,
    output:
        table=report(
            "results/tables/{campaign}/stratified.csv",
            caption="../report/stratified.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
        markdown="results/tables/{campaign}/stratified.md",
    log:
        "results/logs/summarize/{campaign}-stratified.log",
    benchmark:
        "results/benchmarks/summarize/{campaign}-stratified.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/tables/{campaign}/stratified.csv"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    params:
        campaign=stratified_params,
        labels=campaign_labels,
        strata_labels=stratified_labels,
    script:
        "../../scripts/stratified_table.py"


rule figures_stratified:
    input:
        "results/tables/{campaign}/stratified.csv",
    output:
        report(
            "results/figures/{campaign}/stratified.png",
            caption="../report/stratified_figure.rst",
            category="{campaign}",
            subcategory="Figures",
        ),
        "results/figures/{campaign}/stratified.pdf",
    log:
        "results/logs/figures/{campaign}-stratified.log",
    benchmark:
        "results/benchmarks/figures/{campaign}-stratified.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/figures/{campaign}/stratified.png"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    script:
        "../../scripts/figures_stratified.py"
