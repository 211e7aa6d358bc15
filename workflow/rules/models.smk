# Models of both frameworks: one rule per step; the framework's env and script by functions.


rule train:
    input:
        train=TRAIN_SPLIT,
    output:
        MODEL_FILE,
    log:
        "results/logs/train/{dataset}/{model}.{ext}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}.{ext}.tsv"
    wildcard_constraints:
        model=models_from("train"),
        ext="keras|pt",
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("train"),
        runtime=model_runtime("train"),
        gpu=gpus,
    params:
        framework=framework,
        spec=train_params,
        device=device_params,
        seed=config["seed"],
    script:
        "../../scripts/train.py"


rule fetch:
    input:
        test=TEST_SPLIT,
        weights=weights_input,
    output:
        MODEL_FILE,
    log:
        "results/logs/fetch/{dataset}/{model}.{ext}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}/{model}.{ext}.tsv"
    wildcard_constraints:
        model=models_from("file", "keras_applications", "torchvision"),
        ext="keras|pt",
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("fetch"),
        runtime=model_runtime("fetch"),
    params:
        framework=framework,
        spec=fetch_params,
    script:
        "../../scripts/fetch.py"
