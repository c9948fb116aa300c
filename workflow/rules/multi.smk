# Forgetting many identities (config `multi`): nested forget sets of held-out identities
# and a fixed retain set, unlearned simultaneously (one job per method and N) or
# sequentially (one job per method and arrival, each from the previous arrival's G_u).


localrules:
    multi_report,


rule multi_identities:
    input:
        dataset=f"{WORLD}/dataset.npz",
    output:
        keep("results/multi_identities.tsv"),
    log:
        "logs/multi_identities.log",
    benchmark:
        "benchmarks/multi_identities.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        forget=lambda wc: max(MULTI["grid"]),
        retain=MULTI.get("retain", 10),
        seed=seed_for("multi_identities"),
    shell:
        "run_step {log:q} multi_identities --dataset {input.dataset:q}"
        " --forget {params.forget} --retain {params.retain}"
        " --out {output:q} --seed {params.seed}"


rule multi_invert:
    input:
        identities=rules.multi_identities.output,
        dataset=f"{WORLD}/dataset.npz",
        generator=network("generator"),
        encoder=network("encoder"),
    output:
        keep("results/multi_invert/{identity}.pt"),
    log:
        "logs/multi_invert/{identity}.log",
    benchmark:
        "benchmarks/multi_invert/{identity}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        lpips=LPIPS_FLAGS,
        device=DEVICE_FLAG,
        inversion=flags(config["inversion"], "method", "steps", "lr", "lpips_weight"),
        seed=lambda wc: seed_for("multi_invert", wc.identity),
    shell:
        "run_step {log:q} invert --identities {input.identities:q}"
        " --dataset {input.dataset:q} --generator {input.generator:q}"
        " --encoder {input.encoder:q} --scenario ood --identity {wildcards.identity}"
        " {params.inversion} {params.lpips} --out {output:q}"
        " --seed {params.seed} {params.device} {params.threads}"


rule multi_unlearn:
    input:
        unpack(get_multi_previous),
        generator=network("generator"),
        inversions=get_multi_forget,
        loss_identity=network("identity_loss"),
    output:
        keep("results/multi_unlearn/{method}/{mode}/{n}.pt"),
    log:
        "logs/multi_unlearn/{method}/{mode}/{n}.log",
    benchmark:
        "benchmarks/multi_unlearn/{method}/{mode}/{n}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        settings=method_settings,
        lpips=LPIPS_FLAGS,
        schedule=flags(config["unlearn"], "steps", "lr"),
        device=DEVICE_FLAG,
        seed=lambda wc: seed_for("multi_unlearn", wc.method, wc.mode, wc.n),
        inversions=lambda wc, input: repeated("--inversion", input.inversions),
        previous=lambda wc, input: file_flags(input, ("previous",)),
        per_step=multi_per_step_flag,
    shell:
        "run_step {log:q} multi_unlearn --generator {input.generator:q}"
        " {params.inversions} --loss-identity {input.loss_identity:q}"
        " --method {wildcards.method} --settings {params.settings}"
        " --mode {wildcards.mode} {params.previous} {params.per_step}"
        " {params.schedule} {params.lpips} {params.device} --out {output:q}"
        " --seed {params.seed} {params.threads}"


rule multi_evaluate:
    input:
        generator=network("generator"),
        unlearned=rules.multi_unlearn.output,
        forget=get_multi_forget,
        retain=multi_retain_inversions(),
        eval_identity=network("identity_eval"),
        features=network("features"),
        reference="results/fid/reference.npz",
    output:
        keep("results/multi_evaluate/{method}/{mode}/{n}.json"),
    log:
        "logs/multi_evaluate/{method}/{mode}/{n}.log",
    benchmark:
        "benchmarks/multi_evaluate/{method}/{mode}/{n}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        forget=lambda wc, input: repeated("--forget", input.forget),
        retain=lambda wc, input: repeated("--retain", input.retain),
        batch=config["evaluation"]["batch_size"],
        device=DEVICE_FLAG,
        no_face=NO_FACE_FLAG,
        seed=lambda wc: seed_for("multi_evaluate", wc.method, wc.mode, wc.n),
    shell:
        "run_step {log:q} multi_evaluate --generator {input.generator:q}"
        " --unlearned {input.unlearned:q} {params.forget} {params.retain}"
        " --eval-identity {input.eval_identity:q} --features {input.features:q}"
        " --reference {input.reference:q} --batch-size {params.batch}"
        " {params.no_face} {params.device} --out {output:q} --seed {params.seed}"
        " {params.threads}"


rule multi_attack:
    input:
        generator=network("generator"),
        unlearned=rules.multi_unlearn.output,
        forget=get_multi_forget,
        eval_identity=network("identity_eval"),
    output:
        keep("results/multi_attack/{method}/{mode}/{n}.json"),
    log:
        "logs/multi_attack/{method}/{mode}/{n}.log",
    benchmark:
        "benchmarks/multi_attack/{method}/{mode}/{n}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        forget=lambda wc, input: repeated("--forget", input.forget),
        ks=",".join(str(k) for k in MULTI.get("relearn", {}).get("ks", [10, 50, 100])),
        lr=MULTI.get("relearn", {}).get("lr", 1e-4),
        lpips_weight=config["inversion"]["lpips_weight"],
        lpips=LPIPS_FLAGS,
        device=DEVICE_FLAG,
        no_face=NO_FACE_FLAG,
        seed=lambda wc: seed_for("multi_attack", wc.method, wc.mode, wc.n),
    shell:
        "run_step {log:q} multi_attack --generator {input.generator:q}"
        " --unlearned {input.unlearned:q} {params.forget}"
        " --eval-identity {input.eval_identity:q} --relearn-ks {params.ks}"
        " --relearn-lr {params.lr} --lpips-weight {params.lpips_weight} {params.lpips}"
        " {params.no_face} {params.device} --out {output:q} --seed {params.seed}"
        " {params.threads}"


rule multi_report:
    input:
        evaluations=multi_records("evaluate"),
        attacks=multi_records("attack"),
    output:
        [keep(f"results/tables/multi.{ext}") for ext in ("csv", "md", "tex")],
        n_figure=report(
            keep("results/figures/multi_n.png"),
            category="Figures",
            caption="../report/multi_n.rst",
        ),
        sequential_figure=report(
            keep("results/figures/multi_sequential.png"),
            category="Figures",
            caption="../report/multi_sequential.rst",
        ),
    log:
        "logs/multi_report.log",
    benchmark:
        "benchmarks/multi_report.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        evaluations=lambda wc, input: repeated("--evaluation", input.evaluations),
        attacks=lambda wc, input: repeated("--attack", input.attacks),
        grid=",".join(str(n) for n in sorted(set(MULTI.get("grid", [])))),
        caption=shlex.quote(multi_caption()),
    shell:
        "run_step {log:q} multi_report {params.evaluations} {params.attacks}"
        " --grid {params.grid} --tables-dir results/tables"
        " --n-figure {output.n_figure:q} --sequential-figure {output.sequential_figure:q}"
        " --caption {params.caption}"
