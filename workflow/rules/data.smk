rule prepare_data:
    output:
        "results/data/{dataset}/{split}.npz",
    log:
        "results/logs/prepare_data/{dataset}/{split}.log",
    conda:
        TENSORFLOW_ENV
    resources:
        mem_mb=8000,
    params:
        spec=data_params,
        seed=config["seed"],
    script:
        "../../scripts/prepare_data.py"
