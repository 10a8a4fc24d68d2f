# Probes: the same evaluations for every trained variant, one job per variant.

# seconds of work on small files: run where Snakemake runs, not as cluster jobs
localrules:
    plot_linear_probes,


rule probe_variant:
    """Colour, zebra, pattern, completion (with the classical reference), free generation, speed."""
    input:
        model="results/models/{variant}/model.pt",
        split="results/models/{variant}/split.tsv",
    output:
        metrics="results/probes/{variant}/metrics.json",
        images=expand("results/probes/{{variant}}/{probe}.png", probe=PROBE_IMAGES),
    params:
        spec=probe_spec,
        out_dir="results/probes/{variant}",
        device=variant_device,
    log:
        "logs/probe/{variant}.log",
    benchmark:
        "logs/benchmarks/probe/{variant}.tsv"
    threads: 1  # mostly single-threaded numpy (metrics, Efros-Leung): two probes share the 2 demo cores
    priority: variant_priority
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=variant_gpus,  # a variant trained on GPUs is probed on one (its growth and sampling)
    shell:
        "texgen probe --model {input.model:q} --split {input.split:q} --spec {params.spec:q}"
        " --out-dir {params.out_dir:q} --device {params.device} --threads {threads} 2> {log:q}"


rule growth_reference:
    """Efros-Leung and G'MIC grow the growth probe's seeds once (they do not depend on the model): the
    validation tiles of the first built variant's split; the report flags variants split differently."""
    input:
        split=GROWTH_SPLIT,
    output:
        result="results/probes/growth_reference.json",
        sheet="results/probes/growth_reference.png",
    params:
        spec=probe_spec,
    log:
        "logs/growth_reference.log",
    benchmark:
        "logs/benchmarks/growth_reference.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "texgen growth-reference --split {input.split:q} --spec {params.spec:q} --out {output.result:q}"
        " --sheet {output.sheet:q} 2> {log:q}"


rule growth_artist:
    """The growth probe at the artist's size: the pyramid generator (both modes, tileable too) beside G'MIC and
    Efros-Leung on 64 px exemplars of validation images grown to 256^2 (settings: grow.generator, grow.probe)."""
    input:
        split=GROWTH_SPLIT,
    output:
        result="results/probes/growth_artist.json",
        sheet="results/probes/growth_artist.png",
        tiles="results/probes/growth_artist_tiles.png",
    params:
        spec=artist_spec,
    log:
        "logs/growth_artist.log",
    benchmark:
        "logs/benchmarks/growth_artist.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    shell:
        "texgen growth-artist --split {input.split:q} --spec {params.spec:q} --out {output.result:q}"
        " --sheet {output.sheet:q} --tiles {output.tiles:q} --threads {threads} 2> {log:q}"


rule linear_probe:
    """Logistic-regression probes on every layer's pooled features (material, source), with controls."""
    input:
        model="results/models/{variant}/model.pt",
        split="results/models/{variant}/split.tsv",
        materials=materials_input,
    output:
        "results/probes/{variant}/linear.json",
    params:
        spec=probe_spec,
        materials=materials_arg,
        device=variant_device,
    log:
        "logs/linear_probe/{variant}.log",
    benchmark:
        "logs/benchmarks/linear_probe/{variant}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
        gpu=variant_gpus,
    shell:
        "texgen linear-probe --model {input.model:q} --split {input.split:q} {params.materials}"
        " --spec {params.spec:q} --out {output:q} --device {params.device} --threads {threads} 2> {log:q}"


rule condition_probe:
    """Material-conditioned variants: do samples asked for a material look like it (a colour classifier judges)?"""
    input:
        model="results/models/{variant}/model.pt",
        split="results/models/{variant}/split.tsv",
        materials="results/materials.tsv",
    output:
        result="results/probes/{variant}/conditioned.json",
        sheet="results/probes/{variant}/conditioned.png",
    params:
        spec=probe_spec,
        device=variant_device,
    log:
        "logs/condition_probe/{variant}.log",
    benchmark:
        "logs/benchmarks/condition_probe/{variant}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
        gpu=variant_gpus,
    shell:
        "texgen condition-probe --model {input.model:q} --split {input.split:q} --materials {input.materials:q}"
        " --spec {params.spec:q} --out {output.result:q} --sheet {output.sheet:q} --device {params.device}"
        " --threads {threads} 2> {log:q}"


rule plot_linear_probes:
    """Accuracy per layer of every built variant, one figure."""
    input:
        expand("results/probes/{variant}/linear.json", variant=BUILD),
    output:
        "results/probes/linear_probes.png",
    params:
        names=BUILD,
    log:
        "logs/plot_linear_probes.log",
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "texgen plot-linear-probes --names {params.names} --results {input:q} --out {output:q} 2> {log:q}"


rule probe:
    """Target `probe`: every built variant probed."""
    input:
        expand("results/probes/{variant}/metrics.json", variant=BUILD),
        expand("results/probes/{variant}/linear.json", variant=BUILD),
        expand("results/probes/{variant}/conditioned.json", variant=CONDITIONED_BUILD),
        "results/probes/linear_probes.png" if BUILD else [],
        "results/probes/growth_reference.json" if BUILD else [],
        "results/probes/growth_artist.json" if BUILD else [],
