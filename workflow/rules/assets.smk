# Downloads of the real setting: weights and label files (verified by SHA-256) and
# the code the weights import (checked out at pinned commits). Never committed.

ASSET_FILES = [entry["file"] for entry in config["assets"].values()]
ASSET_KEY = {entry["file"]: key for key, entry in config["assets"].items()}


wildcard_constraints:
    asset_file="|".join(
        re.escape(f) for f in sorted(ASSET_FILES, key=len, reverse=True)
    ),
    code="|".join(config["code"]),


localrules:
    download,
    fetch_code,
    preflight,


rule download:
    output:
        "resources/{asset_file}",
    log:
        "logs/download/{asset_file}.log",
    benchmark:
        "benchmarks/download/{asset_file}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("download"),
        key=lambda wc: ASSET_KEY[wc.asset_file],
        spec=lambda wc: json.dumps(config["assets"][ASSET_KEY[wc.asset_file]]),
    shell:
        "python {params.script} --key {params.key} --spec {params.spec:q} --out {output}"
        " > {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"


rule fetch_code:
    output:
        directory("resources/code/{code}"),
    log:
        "logs/fetch_code/{code}.log",
    benchmark:
        "benchmarks/fetch_code/{code}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("fetch_code"),
        c=lambda wc: config["code"][wc.code],
    shell:
        "python {params.script} --repo {params.c[repo]} --commit {params.c[commit]}"
        " --out {output} > {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"


rule preflight:
    log:
        "logs/preflight.log",
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("preflight"),
        configfiles=" ".join(
            f"--configfile {shlex.quote(str(f))}" for f in workflow.overwrite_configfiles
        ),
    shell:
        "python {params.script} {params.configfiles} --root . 2>&1 | tee {log}"
