# Generative identity unlearning: GUIDE and related methods, from the world (or
# the downloads) to the paper's tables. `snakemake --cores all` runs the default.
from snakemake.utils import min_version

min_version("9.20")


# The default run's config, only when none is given: a --configfile (e.g.
# config/paper.yaml) is then the whole config, not an extension of the default's.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/render_common.smk"


if SYNTHETIC:

    include: "workflow/rules/world.smk"

else:

    include: "workflow/rules/assets.smk"
    include: "workflow/rules/real.smk"


include: "workflow/rules/identities.smk"
include: "workflow/rules/invert.smk"
include: "workflow/rules/target.smk"
include: "workflow/rules/unlearn.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/sweep.smk"
include: "workflow/rules/multi.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/render.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
