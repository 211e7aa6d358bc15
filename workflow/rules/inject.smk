# Shards of activation and weight-rate campaigns and the bounds of protected campaigns, for
# models of both frameworks (the framework's env by function; the engine is chosen in the job).


rule inject_activation:
    input:
        model=model_input,
        test=TEST_SPLIT,
        images=EVALUATED,
        baseline=BASELINE,
        earlier=shard_input("earlier"),
        paired=shard_input("paired"),
        bounds=shard_input("bounds"),
    output:
        SHARD,
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=campaigns_where(lambda d: d.shard_rule == "inject_activation"),
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("inject"),
        runtime=model_runtime("inject"),
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_activation.py"


rule inject_weight_rate:
    input:
        model=model_input,
        test=TEST_SPLIT,
        images=EVALUATED,
    output:
        SHARD,
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=campaigns_where(lambda d: d.shard_rule == "inject_weight_rate"),
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("weight_rate"),
        runtime=model_runtime("weight_rate"),
        gpu=gpus,
    params:
        framework=framework,
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_weight_rate.py"


rule bounds:
    input:
        model=model_input,
        profile=profile_split,
        test=TEST_SPLIT,
        images=EVALUATED,
    output:
        bounds=f"{CAMPAIGN_MODEL}/bounds.csv",
        fault_free=f"{CAMPAIGN_MODEL}/fault_free.parquet",
    log:
        "results/logs/bounds/{campaign}/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/bounds/{campaign}/{dataset}/{model}.tsv"
    wildcard_constraints:
        campaign=campaigns_where(lambda d: hasattr(d, "bounds_job")),
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("bounds"),
        runtime=model_runtime("bounds"),
        gpu=gpus,
    params:
        campaign=bounds_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/bounds.py"
