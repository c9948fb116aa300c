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
        keep("resources/{asset_file}"),
    log:
        "logs/download/{asset_file}.log",
    benchmark:
        "benchmarks/download/{asset_file}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        key=lambda wc: ASSET_KEY[wc.asset_file],
        spec=lambda wc: json.dumps(
            config["assets"][ASSET_KEY[wc.asset_file]], sort_keys=True
        ),
    shell:
        "run_step {log:q} download --key {params.key} --spec {params.spec:q} --out {output:q}"


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
        repo=lambda wc: config["code"][wc.code]["repo"],
        commit=lambda wc: config["code"][wc.code]["commit"],
    shell:
        "run_step {log:q} fetch_code --repo {params.repo:q} --commit {params.commit}"
        " --out {output:q}"


rule preflight:
    log:
        "logs/preflight.log",
    conda:
        "../../envs/torch.yaml"
    params:
        configfiles=" ".join(
            f"--configfile {shlex.quote(str(f))}"
            for f in workflow.overwrite_configfiles
        ),
    shell:
        # the screen is the point: shown whether or not something is missing
        "status=0; run_step {log:q} preflight {params.configfiles} --root . || status=$?;"
        " cat {log:q}; exit $status"
