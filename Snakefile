# texgen: raw textures -> curated tiles -> analysis -> models -> probes -> report.
# This file only wires rules; all logic lives in the texgen package (src/texgen).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/acquire.smk"
include: "workflow/rules/curate.smk"
include: "workflow/rules/analyse.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/grow.smk"
include: "workflow/rules/report.smk"


rule all:
    """Default target: everything the configuration asks for."""
    input:
        rules.curate.input,
        rules.analyse.input,
        rules.train.input,
        rules.probe.input,
        rules.grow.input,
        rules.report.output.html,
    default_target: True
