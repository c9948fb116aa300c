rule select_identities:
    input:
        unpack(get_select_identities_input),
    output:
        keep("results/identities.tsv"),
    log:
        "logs/select_identities.log",
    benchmark:
        "benchmarks/select_identities.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        counts=flags(config["identities"], *SCENARIOS),
        seed=seed_for("select_identities"),
        data=lambda wc, input: select_identities_flags(input),
    shell:
        "run_step {log:q} select_identities {params.data} {params.counts}"
        " --out {output:q} --seed {params.seed}"
