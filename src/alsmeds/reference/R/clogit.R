# Reference fit of conditional logistic regression with survival::clogit.
#
# Usage: Rscript clogit.R <dir>
#
# Called by alsmeds.reference.r.run_r_script("clogit", ...), which writes the inputs as CSV
# into <dir> and reads <dir>/out.json back.
#
# <dir>/args.json, one model:
#   covariates   (required) covariate column names of data.csv
#   data         input file stem (default "data": <dir>/data.csv, columns case, strata, covariates)
#   method       "exact" (default), "approximate", "efron" or "breslow"; with one case per
#                matched set exact, Breslow and Efron give the same partial likelihood
#   eps, iter_max  coxph.control() convergence settings (defaults: survival's, 1e-9 and 20)
#   timing_runs  fit that many more times and report the median elapsed seconds (0: no timing)
# or several models in one R session (R start-up with survival takes about 2 s):
#   models       array of objects, each with "name" and the keys above
#
# <dir>/out.json: for one model, an object with coefficients, se (sqrt(diag(vcov))), loglik
# (at the estimate), loglik_null, n, nevent, iterations, method, warnings, timing, r_version and
# survival_version; for several, {"models": {name: object}, "r_version", "survival_version"}.
# Floating-point numbers are written with 17 significant digits (jsonlite's digits = NA stops at
# 15), so they read back bit for bit.

source(file.path(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))), "common.R"))

dir <- reference_dir("clogit.R")
args <- read_args(dir)

specs <- if (is.null(args$models)) list(args) else args$models
if (length(specs) == 0L) stop("args.json: 'models' is empty")
methods_ok <- c("exact", "approximate", "efron", "breslow")
tables <- list()
for (i in seq_along(specs)) {
  spec <- specs[[i]]
  label <- spec$name %||% as.character(i)
  covariates <- unlist(spec$covariates)
  if (length(covariates) == 0L) stop(sprintf("model '%s': no covariates given", label))
  method <- spec$method %||% "exact"
  if (!method %in% methods_ok) stop(sprintf("model '%s': unknown method '%s'", label, method))
  stem <- spec$data %||% "data"
  if (is.null(tables[[stem]])) {
    path <- file.path(dir, paste0(stem, ".csv"))
    if (!file.exists(path)) stop(sprintf("model '%s': no input file %s", label, basename(path)))
    tables[[stem]] <- utils::read.csv(path, check.names = FALSE)
  }
  absent <- setdiff(c("case", "strata", covariates), names(tables[[stem]]))
  if (length(absent) > 0L) {
    stop(sprintf("model '%s': column(s) not in %s.csv: %s", label, stem, paste(absent, collapse = ", ")))
  }
}

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})


fit_model <- function(spec) {
  covariates <- unlist(spec$covariates)
  data <- tables[[spec$data %||% "data"]]
  method <- spec$method %||% "exact"
  control <- coxph.control(eps = spec$eps %||% 1e-9, iter.max = as.integer(spec$iter_max %||% 20L))
  terms <- paste(sprintf("`%s`", covariates), collapse = " + ")
  formula <- stats::as.formula(paste("case ~", terms, "+ strata(strata)"))
  fit_once <- function() clogit(formula, data = data, method = method, control = control)

  fitted <- fit_collecting_warnings(fit_once)
  fit <- fitted$fit
  warned <- fitted$warnings
  coefficients <- stats::coef(fit)
  names(coefficients) <- gsub("`", "", names(coefficients), fixed = TRUE)
  se <- sqrt(diag(as.matrix(stats::vcov(fit))))
  names(se) <- names(coefficients)

  timing <- fit_timing(fit_once, spec$timing_runs)
  list(
    coefficients = num17(coefficients),
    se = num17(se),
    loglik = num17(fit$loglik[[2L]])[[1L]],
    loglik_null = num17(fit$loglik[[1L]])[[1L]],
    n = fit$n,
    nevent = fit$nevent,
    iterations = fit$iter,
    method = method,
    warnings = I(warned),
    timing = timing
  )
}

versions <- list(r_version = R.version.string, survival_version = as.character(utils::packageVersion("survival")))
if (is.null(args$models)) {
  out <- c(fit_model(args), versions)
} else {
  fits <- lapply(specs, fit_model)
  names(fits) <- vapply(seq_along(specs), function(i) specs[[i]]$name %||% as.character(i), character(1))
  out <- c(list(models = fits), versions)
}
jsonlite::write_json(out, file.path(dir, "out.json"), auto_unbox = TRUE, json_verbatim = TRUE, digits = NA, null = "null")
