# Reference fit of a linear mixed model with nlme::lme (random intercept and slope in time).
#
# Usage: Rscript lme.R <dir>
#
# Called by alsmeds.reference.r.run_r_script("lme", ...) (see alsmeds.reference.lme.r_lme), which
# writes the inputs as CSV into <dir> and reads <dir>/out.json back.
#
# <dir>/data.csv: one row per visit with the columns named below (a numeric design: the fixed-effect
# columns are used as they are, so interactions and centring are done before the call).
#
# <dir>/args.json:
#   response       (required) name of the outcome column, e.g. "score"
#   fixed          (required) fixed-effect columns (the model always has an intercept, listed as
#                  "(Intercept)" in the output)
#   time           (required) the column with a random slope, e.g. "months"
#   group          (required) the grouping column, e.g. "person_id"
#   random_slope   true (default): random = ~ time | group; false: random = ~ 1 | group
#   method         "REML" (default) or "ML"
#   opt            "nlminb" (default) or "optim"
#   tolerance      lmeControl(tolerance =, msTol =) convergence tolerance (default 1e-10; nlme's
#                  own default is 1e-6, loose for a comparison to 1e-4 and beyond)
#   max_iter       lmeControl(maxIter =, msMaxIter =, niterEM =) iteration limits (default 500)
#   timing_runs    fit that many more times and report the median elapsed seconds (0: no timing)
#
# <dir>/out.json: fixed (named fixed effects), se (sqrt(diag(vcov))), df (nlme's denominator
# degrees of freedom), variance components (intercept_sd, slope_sd, correlation, residual_sd; slope
# and correlation null without a random slope), loglik (of the fitted method), n_obs, n_groups,
# method, iterations as reported by nlme (NA when absent), warnings, timing, r_version and
# nlme_version. Floating-point numbers are written with 17 significant digits so that they read
# back bit for bit (jsonlite's digits = NA alone stops at 15).

source(file.path(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))), "common.R"))

dir <- reference_dir("lme.R")
args <- read_args(dir)

for (key in c("response", "fixed", "time", "group")) {
  if (is.null(args[[key]])) stop(sprintf("args.json: '%s' is required", key))
}
response <- args$response
fixed <- unlist(args$fixed)
time <- args$time
group <- args$group
random_slope <- isTRUE(args$random_slope %||% TRUE)
method <- args$method %||% "REML"
if (!method %in% c("REML", "ML")) stop(sprintf("args.json: unknown method '%s'", method))
opt <- args$opt %||% "nlminb"
tolerance <- as.numeric(args$tolerance %||% 1e-10)
max_iter <- as.integer(args$max_iter %||% 500L)

path <- file.path(dir, "data.csv")
if (!file.exists(path)) stop("no input file data.csv")
data <- utils::read.csv(path, check.names = FALSE)
absent <- setdiff(c(response, fixed, time, group), names(data))
if (length(absent) > 0L) stop(sprintf("column(s) not in data.csv: %s", paste(absent, collapse = ", ")))


suppressPackageStartupMessages({
  library(nlme)
  library(jsonlite)
})


# nlme rebuilds formulas internally and loses backquotes, so the model sees plain names
# (y, x1, x2, ..., t, g) and the output is labelled with the original column names.
model_data <- data.frame(y = data[[response]], t = data[[time]], g = factor(data[[group]]))
safe <- if (length(fixed) > 0L) paste0("x", seq_along(fixed)) else character(0)
for (i in seq_along(fixed)) model_data[[safe[[i]]]] <- data[[fixed[[i]]]]
rhs <- if (length(fixed) > 0L) paste(safe, collapse = " + ") else "1"
fixed_formula <- stats::as.formula(paste("y ~", rhs))
random_formula <- if (random_slope) ~ t | g else ~ 1 | g
relabel <- function(x) {
  labels <- names(x)
  hit <- match(labels, safe)
  labels[!is.na(hit)] <- fixed[hit[!is.na(hit)]]
  names(x) <- labels
  x
}
control <- lmeControl(
  maxIter = max_iter, msMaxIter = max_iter, niterEM = 25L, msMaxEval = 4L * max_iter,
  tolerance = tolerance, msTol = tolerance, opt = opt, returnObject = FALSE
)
fit_once <- function() {
  lme(fixed = fixed_formula, random = random_formula, data = model_data, method = method, control = control)
}

fitted <- fit_collecting_warnings(fit_once)
fit <- fitted$fit
warned <- fitted$warnings

coefficients <- relabel(nlme::fixef(fit))
se <- sqrt(diag(as.matrix(stats::vcov(fit))))
names(se) <- names(coefficients)
dfs <- relabel(fit$fixDF$X)

# Variance components on the response scale: pdMat -> covariance matrix of the random effects.
re_cov <- as.matrix(nlme::getVarCov(fit))
intercept_sd <- sqrt(re_cov[1L, 1L])
slope_sd <- if (random_slope) sqrt(re_cov[2L, 2L]) else NA_real_
correlation <- if (random_slope) re_cov[1L, 2L] / (intercept_sd * slope_sd) else NA_real_

timing <- fit_timing(fit_once, args$timing_runs)

iterations <- fit$numIter %||% NA_integer_
out <- list(
  fixed = num17(coefficients),
  se = num17(se),
  df = num17(dfs),
  variance_components = list(
    intercept_sd = scalar17(intercept_sd),
    slope_sd = scalar17(slope_sd),
    correlation = scalar17(correlation),
    residual_sd = scalar17(fit$sigma)
  ),
  random_effects_covariance = lapply(seq_len(nrow(re_cov)), function(i) num17(re_cov[i, ])),
  loglik = scalar17(stats::logLik(fit)),
  n_obs = nrow(data),
  n_groups = nlevels(model_data$g),
  method = method,
  iterations = if (is.na(iterations)) NULL else as.integer(iterations),
  warnings = I(warned),
  timing = timing,
  r_version = R.version.string,
  nlme_version = as.character(utils::packageVersion("nlme"))
)
jsonlite::write_json(out, file.path(dir, "out.json"), auto_unbox = TRUE, json_verbatim = TRUE, digits = NA, null = "null")
