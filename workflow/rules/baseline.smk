rule baseline_keras:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/baseline/{dataset}/{model}.parquet",
    log:
        "results/logs/baseline/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/baseline/{dataset}/{model}.tsv"
    wildcard_constraints:
        model=models_of("keras"),
    conda:
        TENSORFLOW_ENV
    threads: config["threads"]
    resources:
        mem_mb=model_mem("baseline"),
        runtime=model_runtime("baseline"),
        gpu=gpus,
    params:
        spec=model_params,
        device=device_params,
    script:
        "../../scripts/baseline_keras.py"


rule baseline_torch:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/baseline/{dataset}/{model}.parquet",
    log:
        "results/logs/baseline/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/baseline/{dataset}/{model}.tsv"
    wildcard_constraints:
        model=models_of("torch"),
    conda:
        "../../envs/pytorch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=model_mem("baseline"),
        runtime=model_runtime("baseline"),
        gpu=gpus,
    params:
        spec=model_params,
        device=device_params,
    script:
        "../../scripts/baseline_torch.py"
