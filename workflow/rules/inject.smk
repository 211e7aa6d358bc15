rule inject_keras_activation:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
        baseline="results/baseline/{dataset}/{model}.parquet",
        earlier=earlier_rounds,
        paired=paired_shard,
        bounds=bounds_input,
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
        mem_mb=model_mem("inject"),
        runtime=model_runtime("inject"),
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_activation.py"


rule inject_torch_activation:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
        baseline="results/baseline/{dataset}/{model}.parquet",
        earlier=earlier_rounds,
        paired=paired_shard,
        bounds=bounds_input,
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
        mem_mb=model_mem("inject"),
        runtime=model_runtime("inject"),
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_activation.py"


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
        mem_mb=model_mem("weight_rate"),
        runtime=model_runtime("weight_rate"),
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
        mem_mb=model_mem("weight_rate"),
        runtime=model_runtime("weight_rate"),
        gpu=gpus,
    params:
        campaign=shard_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/inject_keras_weight_rate.py"


rule bounds_keras:
    input:
        model=model_input,
        profile=profile_split,
        test="results/data/{dataset}/test.npz",
    output:
        bounds="results/campaigns/{campaign}/{dataset}/{model}/bounds.csv",
        fault_free="results/campaigns/{campaign}/{dataset}/{model}/fault_free.parquet",
    log:
        "results/logs/bounds/{campaign}/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/bounds/{campaign}/{dataset}/{model}.tsv"
    wildcard_constraints:
        campaign=_alternatives(protected_campaigns()),
        model=models_of("keras"),
    conda:
        TENSORFLOW_ENV
    threads: config["threads"]
    resources:
        mem_mb=model_mem("bounds"),
        runtime=model_runtime("bounds"),
        gpu=gpus,
    params:
        campaign=protection_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/bounds.py"


rule bounds_torch:
    input:
        model=model_input,
        profile=profile_split,
        test="results/data/{dataset}/test.npz",
    output:
        bounds="results/campaigns/{campaign}/{dataset}/{model}/bounds.csv",
        fault_free="results/campaigns/{campaign}/{dataset}/{model}/fault_free.parquet",
    log:
        "results/logs/bounds/{campaign}/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/bounds/{campaign}/{dataset}/{model}.tsv"
    wildcard_constraints:
        campaign=_alternatives(protected_campaigns()),
        model=models_of("torch"),
    conda:
        "../../envs/pytorch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=model_mem("bounds"),
        runtime=model_runtime("bounds"),
        gpu=gpus,
    params:
        campaign=protection_params,
        model=model_params,
        device=device_params,
    script:
        "../../scripts/bounds.py"
