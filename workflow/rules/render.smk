# What users look at: renders of unlearned generators, the retained faces beside the
# forgotten identity, what the attacks recovered, and HTML pages for the report.


localrules:
    attack_figure,
    report_pages,


rule render:
    input:
        unpack(lambda wc: {"encoder": network("encoder")} if SYNTHETIC else {}),
        generator=network("generator"),
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
    output:
        identity_report(
            "results/render/{scenario}/{identity}/{method}.png", "render {method}"
        ),
    log:
        "logs/render/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/render/{scenario}/{identity}/{method}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        seeds=",".join(
            str(s) for s in config.get("render", {}).get("seeds", [0, 1, 2, 3])
        ),
        encoder=lambda wc, input: file_flags(input, ("encoder",)),
        device=DEVICE_FLAG,
    shell:
        "run_step {log:q} render --generator {input.generator:q}"
        " --unlearned {input.unlearned:q} --inversion {input.inversion:q}"
        " --seeds {params.seeds} {params.encoder} --out {output:q}"
        " {params.device} {params.threads}"


rule gallery:
    input:
        unpack(lambda wc: {"encoder": network("encoder")} if SYNTHETIC else {}),
        generator=network("generator"),
        unlearned=run_files("results/unlearn/{scenario}/{identity}/{method}.pt"),
        strips=run_files("results/evaluate/{scenario}/{identity}/{method}.png"),
        inversions=other_inversions,
        eval_identity=network("identity_eval"),
    output:
        png=identity_report(
            "results/figures/gallery_{scenario}_{identity}.png", "gallery"
        ),
        json="results/gallery/{scenario}/{identity}.json",
    log:
        "logs/gallery/{scenario}/{identity}.log",
    benchmark:
        "benchmarks/gallery/{scenario}/{identity}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        runs=gallery_runs,
        inversions=lambda wc, input: " ".join(
            f"--inversion {shlex.quote(p)}" for p in input.inversions
        ),
        encoder=lambda wc, input: file_flags(input, ("encoder",)),
        faces=config.get("gallery", {}).get("random_faces", 8),
        seed=seed_for("gallery"),
        title=lambda wc: f"'{wc.scenario} {wc.identity}: retained faces'",
        device=DEVICE_FLAG,
    shell:
        "run_step {log:q} gallery --generator {input.generator:q} {params.runs}"
        " {params.inversions} {params.encoder} --eval-identity {input.eval_identity:q}"
        " --random-faces {params.faces} --seed {params.seed} --title {params.title}"
        " --out-png {output.png:q} --out-json {output.json:q}"
        " {params.device} {params.threads}"


rule attack_figure:
    input:
        records=attack_files("json"),
        renders=attack_files("npz"),
    output:
        identity_report(
            "results/figures/attacks_{scenario}_{identity}.png", "attack pictures"
        ),
    log:
        "logs/attack_figure/{scenario}/{identity}.log",
    conda:
        "../../envs/report.yaml"
    params:
        attacks=lambda wc, input: " ".join(
            f"--attack {m} {shlex.quote(r)} {shlex.quote(p)}"
            for m, r, p in zip(attacked_in_order(), input.records, input.renders)
        ),
        title=lambda wc: f"'{wc.scenario} {wc.identity}: what each attack recovered'",
    shell:
        "run_step {log:q} attack_figure {params.attacks} --title {params.title}"
        " --out {output:q}"


rule report_pages:
    input:
        unpack(lambda wc: {"quality": f"{WORLD}/quality.json"} if SYNTHETIC else {}),
        tables=[f"results/tables/{name}.md" for name in report_tables()],
        metrics=rules.aggregate.output,
    output:
        report_pages_outputs(),
    log:
        "logs/report_pages.log",
    conda:
        "../../envs/report.yaml"
    params:
        tables=lambda wc, input: " ".join(
            f"--table {shlex.quote(t)}" for t in input.tables
        ),
        identities=" ".join(f"--identity {s} {i}" for s, i in report_identities()),
        quality=lambda wc, input: file_flags(input, ("quality",)),
    shell:
        "run_step {log:q} report_pages {params.tables} --metrics {input.metrics:q}"
        " {params.identities} {params.quality} --outdir results/report"
