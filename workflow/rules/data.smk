rule prepare_data:
    output:
        "results/data/{dataset}/{split}.npz",
    log:
        "results/logs/prepare_data/{dataset}/{split}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}/{split}.tsv"
    conda:
        TENSORFLOW_ENV
    resources:
        mem_mb=data_mem,
        runtime=data_runtime,
    params:
        spec=data_params,
        seed=config["seed"],
    script:
        "../../scripts/prepare_data.py"
