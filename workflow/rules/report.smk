# The report: one static page rendered from the small summaries every stage wrote.


localrules:
    rulegraph,
    report,


rule rulegraph:
    """The workflow's rule graph, laid out by graphviz (SVG), drawn in the report's provenance section."""
    output:
        "results/report/rulegraph.svg",
    params:
        snakefile=workflow.main_snakefile,
        configfiles=workflow.configfiles,
    log:
        "logs/rulegraph.log",
    shell:
        "texgen rulegraph --snakefile {params.snakefile:q} --configfile {params.configfiles:q}"
        " --out {output:q} 2> {log:q}"


rule report:
    """Target `report`: reports/index.html with its assets next to it."""
    input:
        rules.curate.input,
        rules.analyse.input,
        rules.train.input,
        rules.probe.input,
        rules.grow.input,
        rulegraph="results/report/rulegraph.svg",
        template=str(WORKFLOW_DIR / "workflow" / "report" / "index.html.j2"),
    output:
        html="reports/index.html",
        assets=directory("reports/assets"),
    params:
        config=json.dumps(CFG),
    log:
        "logs/report.log",
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "texgen report --config {params.config:q} --rulegraph {input.rulegraph:q} --template {input.template:q}"
        " --out {output.html:q} 2> {log:q}"
