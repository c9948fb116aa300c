rule select_identities:
    input:
        unpack(get_select_identities_input),
    output:
        "results/identities.tsv",
    log:
        "logs/select_identities.log",
    benchmark:
        "benchmarks/select_identities.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("select_identities"),
        n=config["identities"],
        seed=seed_for("select_identities"),
        data=lambda wc, input: select_identities_flags(input),
    shell:
        "python {params.script} {params.data} --random {params.n[random]}"
        " --ind {params.n[ind]} --ood {params.n[ood]} --out {output} --seed {params.seed}"
        " > {log} 2>&1"
