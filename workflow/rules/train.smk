# Models: one training job per variant (resumable), then a sample sheet per variant.

# seconds of work on small files: run where Snakemake runs, not as cluster jobs
localrules:
    model_summary,


rule train_model:
    """Train one variant; resumable state lives in results/checkpoints/{variant} (not an output)."""
    input:
        unpack(variant_assets),
        tiles=variant_tiles,
    output:
        model="results/models/{variant}/model.pt",
        metrics="results/models/{variant}/metrics.tsv",
        split="results/models/{variant}/split.tsv",
    params:
        launcher=train_launcher,
        device=variant_device,
        spec=variant_spec,
        assets=asset_args,
        state="results/checkpoints/{variant}",
        tensorboard="logs/tensorboard/{variant}",
    log:
        "logs/train/{variant}.log",
    benchmark:
        "logs/benchmarks/train/{variant}.tsv"
    threads: variant_threads
    priority: variant_priority
    resources:
        mem_mb=variant_mem_mb,
        runtime=variant_runtime,
        gpu=variant_gpus,
    shell:
        "{params.launcher} train --variant {wildcards.variant} --spec {params.spec:q} --tiles {input.tiles:q}"
        " --model {output.model:q} --metrics {output.metrics:q} --split {output.split:q}"
        " --state {params.state:q} --tensorboard {params.tensorboard:q} --threads {threads} {params.assets}"
        " --device {params.device} 2> {log:q}"


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
        device=variant_device,
    log:
        "logs/sample_sheet/{variant}.log",
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=variant_gpus,
    shell:
        "texgen sample-sheet --model {input.model:q} --split {input.split:q} --spec {params.spec:q}"
        " --out {output.sheet:q} --info {output.info:q} --device {params.device} --threads {threads} 2> {log:q}"


rule train:
    """Target `train`: every variant listed in models.build, trained and sampled; their palettes and
    tokenizers (and the tokenizers of the codebook ablation)."""
    input:
        expand("results/models/{variant}/{file}", variant=BUILD,
               file=["model.pt", "metrics.tsv", "samples.png", "summary.json", "curve.png"]),
        expand("results/tokenizers/{tokenizer}/eval.json", tokenizer=TOKENIZER_BUILD),
        expand("results/palettes/{k}.json", k=PALETTE_BUILD),


rule fit_palette:
    """ImageGPT-style k-means palette, fitted on the exact colour counts (weighted by pixel count)."""
    input:
        counts="results/analysis/counts/combined.npz",
    output:
        palette="results/palettes/{k}.npy",
        info="results/palettes/{k}.json",
        swatch="results/palettes/{k}.png",
    params:
        size=ANALYSIS_SIZE,
    log:
        "logs/fit_palette/{k}.log",
    benchmark:
        "logs/benchmarks/fit_palette/{k}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "texgen fit-palette --counts {input.counts:q} --size {params.size} --k {wildcards.k}"
        " --out {output.palette:q} --info {output.info:q} --swatch {output.swatch:q} 2> {log:q}"


rule train_tokenizer:
    """A VQ tokenizer (encoder, codebook, decoder), then its reconstruction and codebook usage on validation crops.
    Its own job, so changing a code prior never retrains the tokenizer."""
    input:
        tiles=tokenizer_tiles,
    output:
        model="results/tokenizers/{tokenizer}/model.pt",
        metrics="results/tokenizers/{tokenizer}/metrics.tsv",
        eval="results/tokenizers/{tokenizer}/eval.json",
        recon="results/tokenizers/{tokenizer}/reconstructions.png",
    params:
        spec=tokenizer_spec,
        device=variant_device,
    log:
        "logs/train_tokenizer/{tokenizer}.log",
    benchmark:
        "logs/benchmarks/train_tokenizer/{tokenizer}.tsv"
    threads: variant_threads
    resources:
        mem_mb=variant_mem_mb,
        runtime=variant_runtime,
        gpu=variant_gpus,
    shell:
        "texgen train-tokenizer --name {wildcards.tokenizer} --spec {params.spec:q} --tiles {input.tiles:q}"
        " --model {output.model:q} --metrics {output.metrics:q} --eval {output.eval:q} --recon {output.recon:q}"
        " --device {params.device} --threads {threads} 2> {log:q}"


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
