rule unlearn:
    input:
        generator=rules.train_generator.output,
        inversion=rules.invert.output,
        targets=rules.target.output,
        loss_identity=f"{WORLD}/identity_loss.pt",
    output:
        "results/unlearn/{scenario}/{identity}/{method}.pt",
    log:
        "logs/unlearn/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/unlearn/{scenario}/{identity}/{method}.tsv"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        u=config["unlearn"],
        methods=f"'{METHODS_JSON}'",
        seed=lambda wc: seed_for("unlearn", wc.scenario, wc.identity, wc.method),
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {SCRIPTS}/unlearn.py --generator {input.generator}"
        " --inversion {input.inversion} --targets {input.targets}"
        " --loss-identity {input.loss_identity} --method {wildcards.method}"
        " --methods-json {params.methods} --steps {params.u[steps]} --lr {params.u[lr]}"
        " {LPIPS_FLAGS} --device {params.u[device]} --out {output} --seed {params.seed}"
        " --threads {threads} > {log} 2>&1"
