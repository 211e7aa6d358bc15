rule baseline_keras:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/baseline/{dataset}/{model}.parquet",
    wildcard_constraints:
        model=models_of("keras"),
    params:
        spec=model_params,
    threads: config["threads"]
    resources:
        mem_mb=4000,
    log:
        "results/logs/baseline/{dataset}/{model}.log",
    conda:
        "../../envs/tensorflow.yaml"
    script:
        "../../scripts/baseline_keras.py"


rule baseline_torch:
    input:
        model=model_input,
        test="results/data/{dataset}/test.npz",
    output:
        "results/baseline/{dataset}/{model}.parquet",
    wildcard_constraints:
        model=models_of("torch"),
    params:
        spec=model_params,
    threads: config["threads"]
    resources:
        mem_mb=4000,
    log:
        "results/logs/baseline/{dataset}/{model}.log",
    conda:
        "../../envs/pytorch.yaml"
    script:
        "../../scripts/baseline_torch.py"
