rule inject_keras_activation:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
    wildcard_constraints:
        campaign=campaigns_of("activation"),
        model=models_of("keras"),
    params:
        campaign=shard_params,
        model=model_params,
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    conda:
        "../../envs/tensorflow.yaml"
    script:
        "../../scripts/inject_keras_activation.py"


rule inject_torch_weight_rate:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
    wildcard_constraints:
        campaign=campaigns_of("weight_rate"),
        model=models_of("torch"),
    params:
        campaign=shard_params,
        model=model_params,
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    conda:
        "../../envs/pytorch.yaml"
    script:
        "../../scripts/inject_torch_weight_rate.py"
