rule target:
    input:
        inversion=rules.invert.output,
        generator=network("generator"),
    output:
        "results/target/{scenario}/{identity}/{target}.pt",
    log:
        "logs/target/{scenario}/{identity}/{target}.log",
    benchmark:
        "benchmarks/target/{scenario}/{identity}/{target}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("target"),
    shell:
        "python {params.script} --inversion {input.inversion} --generator {input.generator}"
        " --key {wildcards.target} --out {output} > {log} 2>&1"
