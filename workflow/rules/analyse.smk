# Colour analysis: count (per source, exact) -> combine (sum) -> stats (Lab/RGB) -> plots, grid.
# Counting, statistics and plotting are separate jobs: changing plot code never recounts.

# seconds of work on small files: run where Snakemake runs, not as cluster jobs
localrules:
    combine_colours,
    colour_grid,


rule count_colours:
    """Exact 24-bit colour counts of every tile of one source, per tile size."""
    input:
        tiles="results/manifests/{source}_tiles.tsv",
    output:
        "results/analysis/counts/{source}.npz",
    params:
        sizes=SIZES,
    log:
        "logs/count_colours/{source}.log",
    benchmark:
        "logs/benchmarks/count_colours/{source}.tsv"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=240,
    shell:
        "texgen count-colours --tiles {input.tiles:q} --sizes {params.sizes} --out {output:q}"
        " --threads {threads} 2> {log:q}"


rule combine_colours:
    """Combined counts: the sum of the per-source counts (not a recount)."""
    input:
        expand("results/analysis/counts/{source}.npz", source=SOURCES),
    output:
        "results/analysis/counts/combined.npz",
    params:
        sizes=SIZES,
    log:
        "logs/combine_colours.log",
    resources:
        mem_mb=1500,
        runtime=30,
    shell:
        "texgen combine-colours --counts {input:q} --sizes {params.sizes} --out {output:q} 2> {log:q}"


rule colour_stats:
    """CIELAB and binned RGB statistics of one source (or the combination)."""
    input:
        "results/analysis/counts/{name}.npz",
    output:
        npz="results/analysis/stats/{name}.npz",
        tsv="results/analysis/stats/{name}.tsv",
    params:
        size=ANALYSIS_SIZE,
    log:
        "logs/colour_stats/{name}.log",
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "texgen colour-stats --name {wildcards.name} --counts {input:q} --size {params.size}"
        " --out {output.npz:q} --out-tsv {output.tsv:q} 2> {log:q}"


rule plot_colours:
    """Lab a*/b* plot with marginals and 3-D RGB plot of one source (or the combination)."""
    input:
        "results/analysis/stats/{name}.npz",
    output:
        lab="results/analysis/plots/{name}_lab.png",
        rgb="results/analysis/plots/{name}_rgb.png",
    log:
        "logs/plot_colours/{name}.log",
    resources:
        mem_mb=1500,
        runtime=20,
    shell:
        "texgen plot-colours --name {wildcards.name} --stats {input:q} --lab {output.lab:q}"
        " --rgb {output.rgb:q} 2> {log:q}"


rule colour_grid:
    """Grid figures of all sources and the colour summary table."""
    input:
        stats=expand("results/analysis/stats/{name}.npz", name=SOURCES),
        tables=expand("results/analysis/stats/{name}.tsv", name=SOURCES + ["combined"]),
    output:
        lab="results/analysis/grid_lab.png",
        rgb="results/analysis/grid_rgb.png",
        summary="results/analysis/colour_summary.tsv",
    log:
        "logs/colour_grid.log",
    resources:
        mem_mb=1500,
        runtime=30,
    shell:
        "texgen colour-grid --stats {input.stats:q} --tables {input.tables:q} --lab {output.lab:q}"
        " --rgb {output.rgb:q} --summary {output.summary:q} 2> {log:q}"


rule analyse:
    """Target: colour counts, plots per source and combined, grids and the summary table."""
    input:
        expand("results/analysis/plots/{name}_{kind}.png", name=SOURCES + ["combined"], kind=["lab", "rgb"]),
        rules.colour_grid.output,
