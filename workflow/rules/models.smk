rule train_keras:
    input:
        train="results/data/{dataset}/train.npz",
    output:
        "results/models/{dataset}/{model}.keras",
    wildcard_constraints:
        model=models_of("keras"),
    params:
        spec=model_params,
        seed=config["seed"],
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/train/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}.tsv"
    conda:
        "../../envs/tensorflow.yaml"
    script:
        "../../scripts/train_keras.py"


rule train_torch:
    input:
        train="results/data/{dataset}/train.npz",
    output:
        "results/models/{dataset}/{model}.pt",
    wildcard_constraints:
        model=models_of("torch"),
    params:
        spec=model_params,
        seed=config["seed"],
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/train/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}.tsv"
    conda:
        "../../envs/pytorch.yaml"
    script:
        "../../scripts/train_torch.py"
