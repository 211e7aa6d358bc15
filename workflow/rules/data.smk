rule prepare_data:
    output:
        train="results/data/{dataset}/train.npz",
        test="results/data/{dataset}/test.npz",
    log:
        "results/logs/prepare_data/{dataset}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        spec=dataset_params,
        seed=config["seed"],
    script:
        "../../scripts/prepare_data.py"
