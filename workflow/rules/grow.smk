# snakemake grow: every configured texture set (grow.sets) grown by `texgen grow`, one job per set x size.
# A set's rule is made per set because its outputs (one PNG per companion map) differ between sets.


wildcard_constraints:
    size=r"\d+(x\d+)?",


for _name in GROW_SETS:
    _spec = GROW_SETS[_name]
    _colour, _maps = grow_set_files(_name)
    _res = grow_resources(_name)

    rule:
        name:
            f"grow_set_{_name.replace('-', '_')}"
        input:
            colour=str(_colour),
            maps=[str(p) for p in _maps.values()],
        output:
            colour=f"results/grown/{_name}/{{size}}/colour.png",
            # a TIFF map is written as a TIFF (float heights), every other one as a PNG (``maps.map_outputs``)
            maps=grow_map_outputs(_name, f"results/grown/{_name}/{{size}}"),
            gmic=[f"results/grown/{_name}/{{size}}/gmic.png"] if _spec["reference"] else [],
            info=f"results/grown/{_name}/{{size}}/info.json",
        params:
            # a PBR folder is passed as the folder (its maps are named by type), an image as itself
            exemplar=lambda wildcards, input, folder=Path(_spec["exemplar"]).is_dir(): (
                str(Path(input.colour).parent) if folder else input.colour
            ),
            extra=" ".join(["--maps", *map(shlex.quote, _spec["maps"])]) if _spec["maps"] else "",
            dims=grow_size_args,
            tileable=f"--tileable {_spec['tileable']}" if _spec["tileable"] else "",
            # every setting is a param, so editing one set (or its variant's generator) reruns that set only
            generator=json.dumps(grow_variant(GROW, _spec["variant"]), sort_keys=True),
            variant=f"--variant {_spec['variant']}" if _spec["variant"] else "",
            mode=_spec["mode"],
            seed=_spec["seed"],
            gmic=lambda wildcards, output: f"--gmic {shlex.quote(output.gmic[0])}" if output.gmic else "",
            device="cuda" if _res["gpus"] > 0 else "auto",
            map_names=MAP_NAMES,
        log:
            f"logs/grow/{_name}/{{size}}.log",
        benchmark:
            f"logs/benchmarks/grow/{_name}/{{size}}.tsv"
        threads: _res["cpus"]
        resources:
            mem_mb=lambda wildcards, attempt, mb=_res["mem_mb"]: mb * attempt,
            runtime=_res["runtime"],
            gpu=_res["gpus"],
        shell:
            "texgen grow {params.exemplar:q} {params.extra} --out {output.colour:q} --maps-out '{{map}}.png'"
            " --info {output.info:q} {params.gmic} {params.dims} {params.tileable} --mode {params.mode}"
            " --seed {params.seed} {params.variant} --generator {params.generator:q} --map-names {params.map_names:q}"
            " --device {params.device} --threads {threads} 2> {log:q}"


rule grow:
    """Target `snakemake grow`: every configured set at every size, with its companion maps and G'MIC's result."""
    input:
        [f for name in GROW_SETS for f in grow_outputs(name)],
