rule baseline:
    input:
        model=model_input,
        test=TEST_SPLIT,
    output:
        BASELINE,
    log:
        "results/logs/baseline/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/baseline/{dataset}/{model}.tsv"
    conda:
        framework_env
    threads: config["threads"]
    resources:
        mem_mb=model_mem("baseline"),
        runtime=model_runtime("baseline"),
        gpu=gpus,
    params:
        framework=framework,
        spec=model_params,
        device=device_params,
    script:
        "../../scripts/baseline.py"
