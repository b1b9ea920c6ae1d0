# The public anchor of the joint model: R survival's pbcseq (the Mayo Clinic PBC trial with repeated
# laboratory values, Fleming & Harrington 1991; the same patients and visits as JM's pbc2), written as CSV.
#
# Usage: Rscript pbc_data.R <dir>
#
# Writes <dir>/pbcseq.csv (one row per visit, 312 patients, 1,945 visits) with the raw columns the joint
# model test needs, unchanged from survival::pbcseq:
#   id       patient
#   futime   days from registration to death, transplantation or the end of follow-up (same on every row)
#   status   0 censored, 1 transplanted, 2 dead (same on every row)
#   trt      1 D-penicillamine, 2 placebo
#   day      days from registration to this visit
#   bili     serum bilirubin (mg/dl) at this visit
# and <dir>/out.json with the row and patient counts and the R and survival versions.
#
# The test (tests/test_joint_model.py) derives JM's pbc2 variables from these columns:
#   year = day / 365.24, years = futime / 365.24, drug = 1 for D-penicillamine (trt == 1),
#   status2 = 1 for death (status == 2; transplantation censors), marker log(bili).
# tests/data/pbcseq.csv was written by this script (R 4.2.2, survival 3.5-3); the test re-runs it when R
# is available and requires the same values.

source(file.path(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))), "common.R"))

dir <- reference_dir("pbc_data.R")

pbc <- survival::pbcseq[, c("id", "futime", "status", "trt", "day", "bili")]
pbc <- pbc[order(pbc$id, pbc$day), ]
utils::write.csv(pbc, file.path(dir, "pbcseq.csv"), row.names = FALSE)

out <- list(
  n_rows = nrow(pbc),
  n_patients = length(unique(pbc$id)),
  r_version = R.version.string,
  survival_version = as.character(utils::packageVersion("survival"))
)
jsonlite::write_json(out, file.path(dir, "out.json"), auto_unbox = TRUE, digits = NA)
