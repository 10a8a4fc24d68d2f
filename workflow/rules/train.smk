# Models: one training job per variant (resumable), then a sample sheet per variant.


rule train_model:
    """Train one variant; resumable state lives in results/checkpoints/{variant} (not an output)."""
    input:
        tiles=variant_tiles,
    output:
        model="results/models/{variant}/model.pt",
        metrics="results/models/{variant}/metrics.tsv",
        split="results/models/{variant}/split.tsv",
    params:
        launcher=train_launcher,
        spec=variant_spec,
        state="results/checkpoints/{variant}",
        tensorboard="logs/tensorboard/{variant}",
    log:
        "logs/train/{variant}.log",
    benchmark:
        "logs/benchmarks/train/{variant}.tsv"
    threads: variant_threads
    resources:
        mem_mb=variant_mem_mb,
        runtime=variant_runtime,
        gpu=variant_gpus,
    shell:
        "{params.launcher} train --variant {wildcards.variant} --spec {params.spec:q} --tiles {input.tiles:q}"
        " --model {output.model:q} --metrics {output.metrics:q} --split {output.split:q}"
        " --state {params.state:q} --tensorboard {params.tensorboard:q} --threads {threads} 2> {log:q}"


rule sample_sheet:
    """Seed | completion | truth for held-out crops and two solid-colour seeds."""
    input:
        model="results/models/{variant}/model.pt",
        split="results/models/{variant}/split.tsv",
    output:
        sheet="results/models/{variant}/samples.png",
        info="results/models/{variant}/sampling.json",
    params:
        spec=sample_spec,
    log:
        "logs/sample_sheet/{variant}.log",
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "texgen sample-sheet --model {input.model:q} --split {input.split:q} --spec {params.spec:q}"
        " --out {output.sheet:q} --info {output.info:q} 2> {log:q}"


rule train:
    """Target `train`: every variant listed in models.build, trained and sampled."""
    input:
        expand("results/models/{variant}/{file}", variant=BUILD,
               file=["model.pt", "metrics.tsv", "samples.png", "summary.json", "curve.png"]),


rule model_summary:
    """Small facts of a trained variant (no weights) and its loss curve, for the report."""
    input:
        model="results/models/{variant}/model.pt",
        metrics="results/models/{variant}/metrics.tsv",
    output:
        summary="results/models/{variant}/summary.json",
        curve="results/models/{variant}/curve.png",
    log:
        "logs/model_summary/{variant}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "texgen model-summary --name {wildcards.variant} --model {input.model:q} --metrics {input.metrics:q}"
        " --out {output.summary:q} --curve {output.curve:q} 2> {log:q}"
