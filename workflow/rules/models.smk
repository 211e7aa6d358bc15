rule train_keras:
    input:
        train="results/data/{dataset}/train.npz",
    output:
        "results/models/{dataset}/{model}.keras",
    log:
        "results/logs/train/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}.tsv"
    wildcard_constraints:
        model=models_of("keras", "train"),
    conda:
        TENSORFLOW_ENV
    threads: config["threads"]
    resources:
        mem_mb=model_mem("train"),
        runtime=model_runtime("train"),
        gpu=gpus,
    params:
        spec=train_params,
        device=device_params,
        seed=config["seed"],
    script:
        "../../scripts/train_keras.py"


rule train_torch:
    input:
        train="results/data/{dataset}/train.npz",
    output:
        "results/models/{dataset}/{model}.pt",
    log:
        "results/logs/train/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}.tsv"
    wildcard_constraints:
        model=models_of("torch", "train"),
    conda:
        "../../envs/pytorch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=model_mem("train"),
        runtime=model_runtime("train"),
        gpu=gpus,
    params:
        spec=train_params,
        device=device_params,
        seed=config["seed"],
    script:
        "../../scripts/train_torch.py"


rule fetch_keras:
    input:
        test="results/data/{dataset}/test.npz",
        weights=weights_input,
    output:
        "results/models/{dataset}/{model}.keras",
    log:
        "results/logs/fetch/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}/{model}.tsv"
    wildcard_constraints:
        model=models_of("keras", "file", "keras_applications"),
    conda:
        TENSORFLOW_ENV
    threads: config["threads"]
    resources:
        mem_mb=model_mem("fetch"),
        runtime=model_runtime("fetch"),
    params:
        spec=fetch_params,
    script:
        "../../scripts/fetch_keras.py"


rule fetch_torch:
    input:
        test="results/data/{dataset}/test.npz",
        weights=weights_input,
    output:
        "results/models/{dataset}/{model}.pt",
    log:
        "results/logs/fetch/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}/{model}.tsv"
    wildcard_constraints:
        model=models_of("torch", "file", "torchvision"),
    conda:
        "../../envs/pytorch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=model_mem("fetch"),
        runtime=model_runtime("fetch"),
    params:
        spec=fetch_params,
    script:
        "../../scripts/fetch_torch.py"
