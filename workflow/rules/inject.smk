rule inject_keras_activation:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
        baseline="results/baseline/{dataset}/{model}.parquet",
        earlier=earlier_rounds,
    output:
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=campaigns_of("activation"),
        model=models_of("keras"),
    conda:
        TENSORFLOW_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_keras_activation.py"


rule inject_torch_activation:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
        baseline="results/baseline/{dataset}/{model}.parquet",
        earlier=earlier_rounds,
    output:
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=campaigns_of("activation"),
        model=models_of("torch"),
    conda:
        "../../envs/pytorch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_torch_activation.py"


rule inject_torch_weight_rate:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=campaigns_of("weight_rate"),
        model=models_of("torch"),
    conda:
        "../../envs/pytorch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_torch_weight_rate.py"


rule inject_keras_weight_rate:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
    log:
        "results/logs/inject/{campaign}/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/inject/{campaign}/{dataset}/{model}/shard-{shard}.tsv"
    wildcard_constraints:
        campaign=campaigns_of("weight_rate"),
        model=models_of("keras"),
    conda:
        TENSORFLOW_ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_keras_weight_rate.py"
