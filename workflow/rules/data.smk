rule prepare_data:
    input:
        data_inputs,
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


rule evaluated_images:
    input:
        TEST_SPLIT,
    output:
        EVALUATED,
    log:
        "results/logs/evaluated_images/{campaign}/{dataset}.log",
    benchmark:
        "results/benchmarks/evaluated_images/{campaign}/{dataset}.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=labels_mem,
    params:
        images=lambda w: CAMPAIGNS[w.campaign]["images"],
    script:
        "../../scripts/evaluated_images.py"
