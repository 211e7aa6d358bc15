# Resources of each job (mem_mb, runtime) from what it loads: its split, its model file, its
# campaign's images and injections (dnnfi.workflow.resources; formulas in config/README.md, Resources).
# Each grows with `attempt`, so a job the cluster killed for memory comes back bigger.

import dnnfi.workflow.resources as sizes


# Downloads and fetches need the network, which compute nodes usually lack; the evaluated
# images' table reads a split's labels only.
localrules:
    prepare_data,
    fetch,
    evaluated_images,


def _split(dataset, split="test"):
    path = f"results/data/{dataset}/{split}.npz"
    return sizes.split_shape(path, DATASETS[dataset], split)


def _used(wildcards, shape):
    """Images a job of a campaign evaluates (campaign `images`, else the split)."""
    campaign = getattr(wildcards, "campaign", None)
    images = CAMPAIGNS[campaign]["images"] if campaign else None
    return min(shape.n, images or shape.n)


def _shard_passes(wildcards):
    """Faulty passes of one shard job (its design's `faulty_passes`)."""
    c = wildcards.campaign
    used = _used(wildcards, _split(wildcards.dataset))
    return DESIGNS[c].faulty_passes(CAMPAIGNS[c], wildcards.model, used)


def _model_job(wildcards, kind):
    """(framework, shape, images held preprocessed, model MB, activations MB, passes, model
    copies) of a job."""
    spec = MODELS[wildcards.model]
    fw, precision = spec["framework"], spec["precision"]
    path = spec.get("path") if kind == "fetch" else model_file(wildcards.model)
    model_mb = sizes.file_mb(path)
    if kind == "train":
        shape = _split(wildcards.dataset, "train")
        batch = spec["train"]["batch_size"]
        act = 2 * sizes.outputs_mb(batch, sizes.layer_outputs(None, shape))
        return (
            fw,
            shape,
            shape.n,
            model_mb,
            act,
            3 * spec["train"]["epochs"] * shape.n,
            4,
        )
    shape = _split(wildcards.dataset)
    used = 0 if kind == "fetch" else _used(wildcards, shape)
    elements = sizes.layer_outputs(model_file(wildcards.model), shape)
    passes = used
    # host memory: a GPU job's passes live on the GPU, a CPU job's (or `auto` without a GPU) here
    rows = config["pass_rows"][fw]["cpu"]
    act = 0 if kind == "fetch" else sizes.pass_mb(rows, elements, precision)
    held = used  # images preprocessed at once: all, but for a draw and a shard (run_faults)
    # a draw: the counts of every image and site, and a pass of golden values of a block of images
    if kind == "draw":
        layers = sizes.layer_count(model_file(wildcards.model))
        act += sizes.draw_mb(used, layers) + sizes.pass_mb(rows, elements, precision)
        held = min(used, rows)
    if kind == "inject":
        c = wildcards.campaign
        held = DESIGNS[c].shard_images(CAMPAIGNS[c], wildcards.model, used)
        act = sizes.injection_mb(
            rows, held, elements, precision, CAMPAIGNS[c]["cache_mb"]
        )
    if kind in ("inject", "weight_rate"):
        passes += _shard_passes(wildcards)
    if kind == "bounds":  # the profile split too, and its profiled images
        profile = CAMPAIGNS[wildcards.campaign]["protection"]["profile_images"]
        act += _split(
            wildcards.dataset, profile_split(wildcards).split("/")[-1][:-4]
        ).stored_mb
        used += profile
        held = used
        passes = profile + 2 * used
    return fw, shape, held, model_mb, act, passes, 3


# the jobs that load their split whole; a campaign's jobs read their images by row
LOADS_SPLIT = ("train", "fetch", "baseline")


def model_mem(kind):
    """The mem_mb callable of a model job of `kind` (dnnfi.workflow.resources.mem_mb)."""

    def mem_mb(wildcards, attempt):
        fw, shape, used, model_mb, act, _, copies = _model_job(wildcards, kind)
        whole = kind in LOADS_SPLIT
        return sizes.mem_mb(fw, shape, used, model_mb, act, attempt, copies, whole)

    return mem_mb


def model_runtime(kind):
    """The runtime callable (minutes) of a model job of `kind` (dnnfi.workflow.resources.runtime_min)."""

    def runtime(wildcards, attempt):
        _, shape, _, model_mb, _, passes, _ = _model_job(wildcards, kind)
        return sizes.runtime_min(passes, model_mb, shape, attempt)

    return runtime


def data_mem(wildcards, attempt):
    """prepare_data: the decoded images, stacked, and a kept copy."""
    shape = _split(wildcards.dataset, wildcards.split)
    return sizes.analysis_mem_mb(shape.stored_mb, attempt)


def data_runtime(wildcards, attempt):
    shape = _split(wildcards.dataset, wildcards.split)
    return sizes.runtime_min(shape.n, 0, shape, attempt)


def labels_mem(wildcards, attempt):
    """A job that reads a split's labels only."""
    return sizes.analysis_mem_mb(0, attempt)


def analysis_mem(wildcards, input, attempt):
    """Tables, statistics and figures: their inputs, expanded when read."""
    return sizes.analysis_mem_mb(input.size_mb, attempt)
