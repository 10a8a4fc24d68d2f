# Curation: scan (decode, check, tile) -> rescue (review keeps) -> manifest (dedup, review)
# -> contact sheet, summary. The review file feeds only rescue and manifest of its own source.

# seconds of work on small files: run where Snakemake runs, not as cluster jobs
localrules:
    contact_sheet,
    dataset_summary,
    materials,


rule scan:
    """Decode each file once: automatic checks, keyword filter, thumbnails, tiles of every size."""
    input:
        provenance="data/raw/{source}/provenance.tsv",
        files="data/raw/{source}/files",
        good=CFG["keywords"]["good"],
        bad=CFG["keywords"]["bad"],
        maps=CFG["keywords"].get("maps", []),
    output:
        scan="results/scan/{source}.tsv",
        tiles="results/scan/{source}_tiles.tsv",
        tile_dirs=directory(expand("data/tiles/{size}/{{source}}", size=SIZES)),
        thumbs=directory("results/review/{source}_thumbs"),
    params:
        spec=curate_spec,
        maps=maps_arg,
    log:
        "logs/scan/{source}.log",
    benchmark:
        "logs/benchmarks/scan/{source}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    shell:
        "texgen scan --source {wildcards.source} --spec {params.spec:q}"
        " --provenance {input.provenance:q} --files {input.files:q} --good {input.good:q} --bad {input.bad:q} {params.maps}"
        " --tile-dirs {output.tile_dirs:q} --thumbs {output.thumbs:q}"
        " --out {output.scan:q} --out-tiles {output.tiles:q} --threads {threads} 2> {log:q}"


rule rescue:
    """Tile the files that the review file keeps against the automatic decision (usually none)."""
    input:
        scan="results/scan/{source}.tsv",
        files="data/raw/{source}/files",
        review=review_file,
    output:
        tiles="results/scan/{source}_rescued.tsv",
        tile_dirs=directory(expand("data/tiles_review/{size}/{{source}}", size=SIZES)),
    params:
        spec=curate_spec,
        review=review_arg,
    log:
        "logs/rescue/{source}.log",
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "texgen rescue --source {wildcards.source} --spec {params.spec:q} --scan {input.scan:q}"
        " --files {input.files:q} {params.review} --tile-dirs {output.tile_dirs:q}"
        " --out-tiles {output.tiles:q} 2> {log:q}"


rule manifest:
    """Final decision per file (duplicates across sources, manual review) and the tile list."""
    input:
        scan="results/scan/{source}.tsv",
        tiles="results/scan/{source}_tiles.tsv",
        rescued="results/scan/{source}_rescued.tsv",
        earlier=earlier_scans,
        review=review_file,
    output:
        manifest="results/manifests/{source}.tsv",
        tiles="results/manifests/{source}_tiles.tsv",
    params:
        review=review_arg,
        near_bits=CFG["curate"]["near_duplicate_bits"],
    log:
        "logs/manifest/{source}.log",
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "texgen manifest --source {wildcards.source} --scan {input.scan:q}"
        " --tiles {input.tiles:q} {input.rescued:q} --earlier {input.earlier:q} {params.review}"
        " --near-bits {params.near_bits} --out {output.manifest:q} --out-tiles {output.tiles:q} 2> {log:q}"


rule contact_sheet:
    """Review page with thumbnails, ids and decisions."""
    input:
        manifest="results/manifests/{source}.tsv",
        scan="results/scan/{source}.tsv",
    output:
        "results/review/{source}.html",
    params:
        review_file=review_path,
    log:
        "logs/contact_sheet/{source}.log",
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "texgen contact-sheet --source {wildcards.source} --manifest {input.manifest:q}"
        " --scan {input.scan:q} --thumbs-rel {wildcards.source}_thumbs --review-file {params.review_file:q}"
        " --out {output:q} 2> {log:q}"


rule dataset_summary:
    """Table 1: tiles per source and size, totals per type."""
    input:
        manifests=expand("results/manifests/{source}.tsv", source=SOURCES),
        tiles=expand("results/manifests/{source}_tiles.tsv", source=SOURCES),
    output:
        "results/dataset_summary.tsv",
    params:
        spec=summary_spec,
    log:
        "logs/dataset_summary.log",
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "texgen summary --spec {params.spec:q} --manifests {input.manifests:q}"
        " --tiles {input.tiles:q} --out {output:q} 2> {log:q}"


rule materials:
    """Material category of every tile, from the good keywords that matched its file (config: materials)."""
    input:
        manifests=expand("results/manifests/{source}.tsv", source=SOURCES),
        tiles=expand("results/manifests/{source}_tiles.tsv", source=SOURCES),
    output:
        "results/materials.tsv",
    params:
        spec=materials_spec,
    log:
        "logs/materials.log",
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "texgen materials --manifests {input.manifests:q} --tiles {input.tiles:q} --spec {params.spec:q}"
        " --out {output:q} 2> {log:q}"


rule curate:
    """Target: all manifests, tiles, contact sheets and the summary table."""
    input:
        expand("results/manifests/{source}.tsv", source=SOURCES),
        expand("results/manifests/{source}_tiles.tsv", source=SOURCES),
        expand("results/review/{source}.html", source=SOURCES),
        "results/dataset_summary.tsv",
        "results/materials.tsv" if MATERIALS else [],
