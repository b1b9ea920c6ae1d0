# rsimsum's performance measures of the committed simulation study (issue: formats people use), stored
# as JSON for tests/test_simstudy_export.py, which checks that the bundle's own measures
# (alsmeds.reporting.simstudy.performance_measures, the numbers of results/simstudy_performance.csv)
# are rsimsum's to 1e-10.
#
# Rerun (from anywhere; paths are relative to the repository root, found from this script's place):
#
#   1. rsimsum is not packaged for Debian and is installed into a PRIVATE library, build/R-lib (not tracked):
#        apt-get install -y --no-install-recommends r-cran-ggridges   # the one Import Debian's R lacked
#                                    # (checkmate, generics, ggplot2, knitr, lifecycle, rlang, scales: r-cran-*)
#        git clone https://github.com/ellessenne/rsimsum <dir>          # tag 0.13.0 = commit c2c4ddd (CRAN 0.13.0)
#        mkdir -p build/rsimsum-src && git --git-dir=<dir>/.git archive 0.13.0 | tar -x -C build/rsimsum-src
#        R CMD INSTALL -l build/R-lib build/rsimsum-src
#      (0.13.0, not the development 0.13.1.9000: that one requires rlang >= 1.2.0, Debian bookworm has
#      1.0.6; 0.13.0 to 0.13.1 changed no formula used here, only the relative bias MCSE's na.rm.)
#      The script puts build/R-lib (or $RSIMSUM_R_LIB when set) first on .libPaths(); it never installs.
#   2. The tidy export of the committed replicates (results/simstudy_estimates.csv.gz), then rsimsum
#      (a few seconds each):
#        .venv/bin/python -m alsmeds.simstudy export --format rsimsum build/rsimsum/simstudy_tidy.csv
#        Rscript src/alsmeds/reference/R/rsimsum.R
#      reads build/rsimsum/simstudy_tidy.csv and writes tests/data/rsimsum_reference.json.
#   Options (key=value): input=<csv>, out=<json>.
#
# The call, for the 132 estimators with an estimand (all of them, the robust-SE ones included; one "by" group each):
#   simsum(data, estvarname = "b", se = "se", true = "true",
#          by = c("family", "comparison", "model", "exposure", "stratum", "term"),
#          methodvar = NULL, ref = NULL, ci.limits = NULL, df = NULL, dropbig = FALSE,
#          control = list(mcse = TRUE, level = 0.95, na.rm = TRUE))
#   methodvar NULL: each estimator has its own estimand, so no two are "methods" of one target in
#   rsimsum's sense (its relprec, which needs them, is NA and not written).
#
# rsimsum 0.13.0's definitions (R/performance.R) against the bundle's (alsmeds.reporting.simstudy),
# n = nsim = the rows with both b and se (rsimsum blanks b when se is NA and vice versa; the export
# writes both NA where the bundle leaves a replicate out, so nsim is the bundle's n_estimable):
#   bias      mean(b - true)                         the same; MCSE sqrt(sum((b - mean b)^2) / (n (n - 1)))
#                                                    = EmpSE / sqrt(n), the bundle's bias_mcse (its
#                                                    bias_total_se adds the implied estimand's mc_se,
#                                                    which rsimsum does not know)
#   empse     sd(b), n - 1 divisor                   the same, MCSE EmpSE / sqrt(2 (n - 1)) the same
#   modelse   sqrt(mean(se^2))                       the same; MCSE sqrt(var(se^2) / (4 n ModSE^2)) the same
#   relerror  100 (ModSE / EmpSE - 1)                the bundle's relerr_modse; MCSE the same formula
#                                                    (rsimsum >= 0.12.0, after its fix #45)
#   cover     true in [b - z se, b + z se]           the bundle's coverage, z = qnorm(0.975) both (no
#                                                    df: control$level = 0.95 and df = NULL give the normal
#                                                    quantile, as the bundle's Wald intervals; closed
#                                                    interval both)
#   becover   mean(b) in [b - z se, b + z se]        the bundle's be_coverage
#   power     |b| >= z se                            the bundle counts |b| > z se: they differ only for an
#                                                    estimate exactly on the boundary (none here; the test
#                                                    compares the numbers)
#   mse       mean((b - true)^2)                     not a bundle column: bias^2 + (n - 1) / n EmpSE^2
#   rbias     mean((b - true) / true)                not a bundle column: bias / true (null where true = 0)
#   thetamean mean(b), se2mean mean(se^2)            the bundle's mean_estimate, modse^2
#
# Output (JSON, numbers with 17 significant digits, null for NA/NaN/Inf): versions (rsimsum, R), the
# input (file name, MD5 of its bytes, rows), the call, and "estimators": one entry per estimator with
# its by keys and, for each of rsimsum's measures, {"est": ..., "mcse": ...} (mcse null where rsimsum
# gives none), in rsimsum's order of the by groups.

script_file <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))
script_dir <- dirname(script_file)
source(file.path(script_dir, "common.R"))
repo <- normalizePath(file.path(script_dir, "..", "..", "..", ".."))

lib <- Sys.getenv("RSIMSUM_R_LIB", file.path(repo, "build", "R-lib"))
if (!dir.exists(file.path(lib, "rsimsum"))) {
  stop(sprintf("rsimsum is not installed in the private R library %s: install it there first (see the top of %s)",
               lib, script_file))
}
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages({
  library(rsimsum)
  library(jsonlite)
})

# --------------------------------------------------------------------------- arguments

opts <- list()
for (a in commandArgs(trailingOnly = TRUE)) {
  kv <- strsplit(a, "=", fixed = TRUE)[[1L]]
  if (length(kv) != 2L) stop(sprintf("option %s: expected key=value (input=<csv>, out=<json>)", a))
  opts[[kv[[1L]]]] <- kv[[2L]]
}
input <- normalizePath(opts$input %||% file.path(repo, "build", "rsimsum", "simstudy_tidy.csv"), mustWork = TRUE)
out_file <- opts$out %||% file.path(repo, "tests", "data", "rsimsum_reference.json")

# --------------------------------------------------------------------------- data and call

by <- c("family", "comparison", "model", "exposure", "stratum", "term")
classes <- c(i = "integer", seed = "numeric", b = "numeric", se = "numeric", true = "numeric", reason = "character")
classes[by] <- "character"
data <- utils::read.csv(input, colClasses = classes, na.strings = "NA", stringsAsFactors = FALSE)
control <- list(mcse = TRUE, level = 0.95, na.rm = TRUE)

started <- proc.time()[["elapsed"]]
s <- rsimsum::simsum(
  data = data, estvarname = "b", se = "se", true = "true", by = by, methodvar = NULL, ref = NULL,
  ci.limits = NULL, df = NULL, dropbig = FALSE, x = FALSE, control = control
)
seconds <- proc.time()[["elapsed"]] - started
summ <- s$summ

# --------------------------------------------------------------------------- output

stats_written <- setdiff(unique(summ$stat), "relprec")
groups <- unique(summ[by])
estimators <- lapply(seq_len(nrow(groups)), function(g) {
  key <- groups[g, , drop = FALSE]
  rows <- summ[Reduce(`&`, lapply(by, function(k) summ[[k]] == key[[k]])), ]
  measures <- lapply(stats_written, function(st) {
    r <- rows[rows$stat == st, ]
    if (nrow(r) != 1L) stop(sprintf("%s: %d rows of %s", paste(key, collapse = "/"), nrow(r), st))
    list(est = scalar17(r$est), mcse = scalar17(r$mcse))
  })
  names(measures) <- stats_written
  c(stats::setNames(lapply(by, function(k) key[[k]]), by), list(measures = measures))
})

out <- list(
  description = paste(
    "rsimsum::simsum performance measures of the simulation study's tidy export",
    "(alsmeds.simstudy.export; src/alsmeds/reference/R/rsimsum.R)"
  ),
  versions = list(rsimsum = as.character(utils::packageVersion("rsimsum")), R = R.version.string),
  input = list(
    file = basename(input), md5 = unname(tools::md5sum(input)), rows = nrow(data),
    estimators = nrow(groups), replicates = length(unique(data$i))
  ),
  call = list(
    estvarname = "b", se = "se", true = "true", by = by, methodvar = NULL, ci.limits = NULL, df = NULL,
    dropbig = FALSE, control = control
  ),
  seconds = scalar17(seconds),
  estimators = estimators
)
dir.create(dirname(out_file), showWarnings = FALSE, recursive = TRUE)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE, digits = NA, null = "null"),
           out_file)
cat(sprintf("rsimsum %s: %d estimators, %d rows, %.1f s; written %s\n", utils::packageVersion("rsimsum"),
            nrow(groups), nrow(data), seconds, out_file))
