rule collect_model:
    input:
        shards=shard_files,
        baseline=BASELINE,
        data=TEST_SPLIT,
        taxonomy=taxonomy_input,
    output:
        f"{CAMPAIGN_MODEL}/injections.parquet",
    log:
        "results/logs/collect/{campaign}/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/collect/{campaign}/{dataset}/{model}.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    params:
        kind=lambda w: design_of(w).kind,
    script:
        "../../scripts/collect_model.py"


rule summarize_activation:
    input:
        injections=campaign_models,
        baselines=campaign_baselines,
        taxonomies=campaign_taxonomies,
    output:
        summary=report(
            "results/tables/{campaign}/summary.csv",
            caption="../report/summary_activation.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
        markdown="results/tables/{campaign}/summary.md",
        outcomes=report(
            "results/tables/{campaign}/outcomes.csv",
            caption="../report/outcomes.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
        by_layer="results/tables/{campaign}/by_layer.csv",
        by_bit="results/tables/{campaign}/by_bit.csv",
        scm=report(
            "results/tables/{campaign}/scm.csv",
            caption="../report/scm_table.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
    log:
        "results/logs/summarize/{campaign}.log",
    benchmark:
        "results/benchmarks/summarize/{campaign}.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/tables/{campaign}/outcomes.csv"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    params:
        labels=campaign_labels,
        datasets=campaign_datasets,
        confidence=lambda w: CAMPAIGNS[w.campaign]["confidence"],
        margin=lambda w: CAMPAIGNS[w.campaign]["margin"],
    script:
        "../../scripts/summarize_activation.py"


rule summarize_weight_rate:
    input:
        injections=campaign_models,
        baselines=campaign_baselines,
        evaluated=campaign_evaluated,
    output:
        summary=report(
            "results/tables/{campaign}/summary.csv",
            caption="../report/summary_weight_rate.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
        markdown="results/tables/{campaign}/summary.md",
        replicas="results/tables/{campaign}/replicas.csv",
    log:
        "results/logs/summarize/{campaign}.log",
    benchmark:
        "results/benchmarks/summarize/{campaign}.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/tables/{campaign}/replicas.csv"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    params:
        labels=campaign_labels,
        images=lambda w: CAMPAIGNS[w.campaign]["images"],
    script:
        "../../scripts/summarize_weight_rate.py"


rule summarize_protection:
    input:
        protected=campaign_models,
        unprotected=per_model("injections.parquet", paired_campaign),
        fault_free=per_model("fault_free.parquet"),
        strata=stratified_strata,  # a stratified pair's weights
    output:
        report(
            "results/tables/{campaign}/protection.csv",
            caption="../report/protection_table.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
    log:
        "results/logs/summarize_protection/{campaign}.log",
    benchmark:
        "results/benchmarks/summarize_protection/{campaign}.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/tables/{campaign}/protection.csv"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    params:
        labels=campaign_labels,
        strata_labels=stratified_labels,
        confidence=lambda w: CAMPAIGNS[w.campaign]["confidence"],
        seed=config["seed"],
        protection=lambda w: "{method} ({layers})".format(
            **CAMPAIGNS[w.campaign]["protection"]
        ),
    script:
        "../../scripts/summarize_protection.py"
