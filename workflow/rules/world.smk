# The embedded synthetic world: dataset, generator, identity networks, encoder,
# feature network, and the world's own quality report.


# torch threads of the critical-path jobs, whatever --cores (see JOB_THREADS)
WORLD_THREADS = f"--threads {config['world']['threads']}"


rule dataset:
    output:
        keep(f"{WORLD}/dataset.npz"),
    log:
        "logs/dataset.log",
    benchmark:
        "benchmarks/dataset.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        world=flags(config["world"], *DATASET_KEYS),
        seed=seed_for("dataset"),
    shell:
        "run_step {log:q} dataset --out {output:q} {params.world} --seed {params.seed}"


rule train_generator:
    input:
        rules.dataset.output,
    output:
        keep(f"{WORLD}/generator.pt"),
    log:
        "logs/train_generator.log",
    benchmark:
        "benchmarks/train_generator.tsv"
    # first, on both cores (world.threads): a priority above any two 1-thread jobs, or a
    # job that needs both cores starves behind them until the run ends
    priority: 10
    conda:
        "../../envs/torch.yaml"
    threads: config["world"]["threads"]
    params:
        threads=WORLD_THREADS,
        schedule=flags(config["world"]["generator"], *SCHEDULE_KEYS),
        fit=flags(config["world"]["generator_fit"], *GENERATOR_FIT_KEYS),
        w_norm=config["world"]["w_norm"],
        seed=seed_for("train_generator"),
    shell:
        "run_step {log:q} train_generator --dataset {input:q} --out {output:q}"
        " --w-norm {params.w_norm} {params.fit} {params.schedule} --seed {params.seed}"
        " {params.threads}"


rule train_identity:
    input:
        rules.dataset.output,
    output:
        keep(f"{WORLD}/identity_{{role}}.pt"),
    log:
        "logs/train_identity/{role}.log",
    benchmark:
        "benchmarks/train_identity/{role}.tsv"
    priority: 1  # every later job needs the world
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        threads=JOB_THREADS,
        schedule=flags(config["world"]["identity"], *SCHEDULE_KEYS),
        seed=lambda wc: seed_for("train_identity", wc.role),
    shell:
        "run_step {log:q} train_identity --dataset {input:q} --role {wildcards.role}"
        " --out {output:q} {params.schedule} --seed {params.seed} {params.threads}"


rule train_encoder:
    input:
        dataset=rules.dataset.output,
        generator=rules.train_generator.output,
    output:
        keep(f"{WORLD}/encoder.pt"),
    log:
        "logs/train_encoder.log",
    benchmark:
        "benchmarks/train_encoder.tsv"
    priority: 5  # next, on both cores, for the same reason
    conda:
        "../../envs/torch.yaml"
    threads: config["world"]["threads"]
    params:
        threads=WORLD_THREADS,
        schedule=flags(config["world"]["encoder"], *SCHEDULE_KEYS),
        seed=seed_for("train_encoder"),
    shell:
        "run_step {log:q} train_encoder --dataset {input.dataset:q}"
        " --generator {input.generator:q} --out {output:q} {params.schedule}"
        " --seed {params.seed} {params.threads}"


rule train_features:
    input:
        rules.dataset.output,
    output:
        keep(f"{WORLD}/features.pt"),
    log:
        "logs/train_features.log",
    benchmark:
        "benchmarks/train_features.tsv"
    priority: 1  # every later job needs the world
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        threads=JOB_THREADS,
        schedule=flags(config["world"]["features"], *SCHEDULE_KEYS),
        seed=seed_for("train_features"),
    shell:
        "run_step {log:q} train_features --dataset {input:q} --out {output:q}"
        " {params.schedule} --seed {params.seed} {params.threads}"


rule world_quality:
    input:
        dataset=rules.dataset.output,
        generator=rules.train_generator.output,
        loss_identity=f"{WORLD}/identity_loss.pt",
        eval_identity=f"{WORLD}/identity_eval.pt",
        encoder=rules.train_encoder.output,
        features=rules.train_features.output,
    output:
        json=keep(f"{WORLD}/quality.json"),
        png=report(
            keep(f"{WORLD}/targets_grid.png"),
            category="World",
            caption="../report/targets.rst",
        ),
    log:
        "logs/world_quality.log",
    benchmark:
        "benchmarks/world_quality.tsv"
    priority: 1  # on one thread: as a 2-thread job it waited behind 1-thread jobs to the end
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        threads=JOB_THREADS,
        lpips=LPIPS_FLAGS,
        inversion="--inversion-steps {steps} --inversion-lr {lr} --inversion-lpips {lpips_weight}".format(
            **config["inversion"]
        ),
        samples=config["world"]["quality_samples"],
        people=config["world"]["quality_inversions"],
        seed=seed_for("world_quality"),
    shell:
        "run_step {log:q} world_quality --dataset {input.dataset:q}"
        " --generator {input.generator:q} --loss-identity {input.loss_identity:q}"
        " --eval-identity {input.eval_identity:q} --encoder {input.encoder:q}"
        " --features {input.features:q} {params.inversion}"
        " {params.lpips} --inversion-identities {params.people} --samples {params.samples}"
        " --out-json {output.json:q}"
        " --out-png {output.png:q} --seed {params.seed} {params.threads}"
