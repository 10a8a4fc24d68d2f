# Acquisition: one job per source. Network steps run on the submitting host (localrules).


localrules:
    acquire,


rule acquire:
    """Import a folder / archive / package, or scrape a gallery, into data/raw/{source}."""
    input:
        acquire_input,
    output:
        files=directory("data/raw/{source}/files"),
        provenance="data/raw/{source}/provenance.tsv",
    params:
        spec=source_spec,
    log:
        "logs/acquire/{source}.log",
    resources:
        mem_mb=1000,
        runtime=120,
    shell:
        "texgen acquire --source {wildcards.source} --spec {params.spec:q}"
        " --files {output.files:q} --provenance {output.provenance:q} --cache data/cache 2> {log:q}"
