# Probes: the same evaluations for every trained variant, one job per variant.


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
    log:
        "logs/probe/{variant}.log",
    benchmark:
        "logs/benchmarks/probe/{variant}.tsv"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=60,
    shell:
        "texgen probe --model {input.model:q} --split {input.split:q} --spec {params.spec:q}"
        " --out-dir {params.out_dir:q} 2> {log:q}"


rule probe:
    """Target `probe`: every built variant probed."""
    input:
        expand("results/probes/{variant}/metrics.json", variant=BUILD),
