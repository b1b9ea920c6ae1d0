# Reference fits of Cox models with survival::coxph and Kaplan-Meier curves with survival::survfit.
#
# Usage: Rscript coxph.R <dir>
#
# Called by alsmeds.reference.coxph.r_coxph (through alsmeds.reference.r.run_r_script("coxph", ...)),
# which writes the inputs as CSV into <dir> and reads <dir>/out.json back.
#
# <dir>/args.json:
#   models   array of Cox models, each an object with
#              name         label of the model in out.json
#              data         input file stem: <dir>/<data>.csv with columns time, event and the covariates
#              covariates   covariate column names
#              ties         "efron" (default) or "breslow"
#              strata       optional: column name of the strata (strata() term: a baseline hazard per stratum)
#              cluster      optional: column name of the clusters (cluster() term: robust variance summed by cluster)
#              robust       optional, true: robust (sandwich) variance, each row its own cluster without cluster
#              schoenfeld   optional, true: also report residuals(fit, "schoenfeld")
#              zph          optional: array of cox.zph transforms ("km", "identity", "rank", "log") to report
#              eps, iter_max  coxph.control() settings (defaults: survival's, 1e-9 and 20)
#              timing_runs  fit that many more times and report the median elapsed seconds (0: no timing)
#   survfit  array of Kaplan-Meier requests, each an object with
#              name         label of the curves in out.json
#              data         input file stem: columns time, event, group
#              conf_type    survfit(conf.type=): "log-log" (default, as lifelines), "log" (R's default) or "plain"
#              rmean_tau    optional: also report the restricted mean up to this time and its SE
#                           (summary(fit, rmean = tau)$table: rmean, se(rmean))
#
# <dir>/out.json:
#   models   {name: {coefficients, se (sqrt(diag(vcov)): the robust SE when robust or clustered), loglik,
#                    loglik_null, n, nevent, iterations, ties, warnings, timing
#                    [, robust_se, naive_se]      with robust or cluster: sqrt(diag(fit$var)), sqrt(diag(fit$naive.var))
#                    [, schoenfeld]               with schoenfeld: {row: 0-based input rows of the events, time,
#                                                 residuals: {covariate: values}}, in R's order (stratum, time, row)
#                    [, zph]}}                    with zph: {transform: {chisq, df, p: {term or GLOBAL: value},
#                                                 y: {covariate: scaled Schoenfeld residuals, cox.zph's y}}}
#   survfit  {name: {group: {time, n_risk, n_event, surv, std_err, lower, upper[, rmean, rmean_se]}}}, at
#            the event times only (n.event > 0); std_err is survfit's standard error of the cumulative hazard
#   r_version, survival_version
# Floating-point numbers are written with 17 significant digits (jsonlite's digits = NA stops at 15),
# so they read back bit for bit.

source(file.path(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))), "common.R"))

dir <- reference_dir("coxph.R")
args <- read_args(dir)

tables <- list()
read_input <- function(stem, needed, label) {
  if (is.null(tables[[stem]])) {
    path <- file.path(dir, paste0(stem, ".csv"))
    if (!file.exists(path)) stop(sprintf("'%s': no input file %s", label, basename(path)))
    tables[[stem]] <<- utils::read.csv(path, check.names = FALSE)
  }
  absent <- setdiff(needed, names(tables[[stem]]))
  if (length(absent) > 0L) {
    stop(sprintf("'%s': column(s) not in %s.csv: %s", label, stem, paste(absent, collapse = ", ")))
  }
  tables[[stem]]
}

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})


fit_model <- function(spec, i) {
  label <- spec$name %||% as.character(i)
  covariates <- unlist(spec$covariates)
  if (length(covariates) == 0L) stop(sprintf("model '%s': no covariates given", label))
  ties <- spec$ties %||% "efron"
  if (!ties %in% c("efron", "breslow")) stop(sprintf("model '%s': unknown ties '%s'", label, ties))
  strata_col <- spec$strata
  cluster_col <- spec$cluster
  robust <- isTRUE(spec$robust)
  data <- read_input(spec$data %||% "data", c("time", "event", covariates, strata_col, cluster_col), label)
  control <- coxph.control(eps = spec$eps %||% 1e-9, iter.max = as.integer(spec$iter_max %||% 20L))
  rhs <- sprintf("`%s`", covariates)
  if (!is.null(strata_col)) rhs <- c(rhs, sprintf("strata(`%s`)", strata_col))
  if (!is.null(cluster_col)) rhs <- c(rhs, sprintf("cluster(`%s`)", cluster_col))
  formula <- stats::as.formula(paste("Surv(time, event) ~", paste(rhs, collapse = " + ")))
  fit_once <- if (robust) {
    function() coxph(formula, data = data, ties = ties, control = control, robust = TRUE)
  } else {
    function() coxph(formula, data = data, ties = ties, control = control)
  }

  fitted <- fit_collecting_warnings(fit_once)
  fit <- fitted$fit
  warned <- fitted$warnings
  coefficients <- stats::coef(fit)
  names(coefficients) <- gsub("`", "", names(coefficients), fixed = TRUE)
  se <- sqrt(diag(as.matrix(stats::vcov(fit))))
  names(se) <- names(coefficients)

  timing <- fit_timing(fit_once, spec$timing_runs)
  out <- list(
    coefficients = num17(coefficients),
    se = num17(se),
    loglik = scalar17(fit$loglik[[2L]]),
    loglik_null = scalar17(fit$loglik[[1L]]),
    n = fit$n,
    nevent = fit$nevent,
    iterations = fit$iter,
    ties = ties,
    warnings = I(warned),
    timing = timing
  )
  by_column <- function(m) {
    m <- as.matrix(m)
    cols <- lapply(seq_len(ncol(m)), function(j) num17(unname(m[, j])))
    names(cols) <- names(coefficients)
    cols
  }
  if (!is.null(fit$naive.var)) {
    robust_se <- sqrt(diag(as.matrix(fit$var)))
    naive_se <- sqrt(diag(as.matrix(fit$naive.var)))
    names(robust_se) <- names(naive_se) <- names(coefficients)
    out$robust_se <- num17(robust_se)
    out$naive_se <- num17(naive_se)
  }
  if (isTRUE(spec$schoenfeld)) {
    # residuals() orders the events by stratum, time and row (order(strata, time, -status) is stable)
    strata_codes <- if (is.null(strata_col)) rep(0L, nrow(data)) else as.integer(factor(data[[strata_col]]))
    ord <- order(strata_codes, data$time, -data$event)
    rows <- ord[data$event[ord] == 1]
    out$schoenfeld <- list(
      row = I(rows - 1L),
      time = num17(data$time[rows]),
      residuals = by_column(stats::residuals(fit, type = "schoenfeld"))
    )
  }
  transforms <- unlist(spec$zph)
  if (length(transforms)) {
    zph <- lapply(transforms, function(tr) {
      z <- cox.zph(fit, transform = tr)
      table <- z$table
      rownames(table) <- gsub("`", "", rownames(table), fixed = TRUE)
      list(
        chisq = num17(table[, "chisq"]),
        df = num17(table[, "df"]),
        p = num17(table[, "p"]),
        y = by_column(z$y)
      )
    })
    names(zph) <- transforms
    out$zph <- zph
  }
  out
}

fit_curves <- function(spec, i) {
  label <- spec$name %||% as.character(i)
  data <- read_input(spec$data %||% "data", c("time", "event", "group"), label)
  conf_type <- spec$conf_type %||% "log-log"
  out <- list()
  for (g in sort(unique(data$group))) {
    sub <- data[data$group == g, , drop = FALSE]
    s <- survfit(Surv(time, event) ~ 1, data = sub, conf.type = conf_type)
    keep <- s$n.event > 0
    curve <- list(
      time = num17(s$time[keep]),
      n_risk = I(s$n.risk[keep]),
      n_event = I(s$n.event[keep]),
      surv = num17(s$surv[keep]),
      std_err = num17(s$std.err[keep]),
      lower = num17(s$lower[keep]),
      upper = num17(s$upper[keep])
    )
    if (!is.null(spec$rmean_tau)) {
      table <- summary(s, rmean = as.numeric(spec$rmean_tau))$table
      curve$rmean <- scalar17(unname(table[["rmean"]]))
      curve$rmean_se <- scalar17(unname(table[["se(rmean)"]]))
    }
    out[[as.character(g)]] <- curve
  }
  out
}

models <- args$models %||% list()
curves <- args$survfit %||% list()
if (length(models) + length(curves) == 0L) stop("args.json: neither 'models' nor 'survfit' given")
fits <- lapply(seq_along(models), function(i) fit_model(models[[i]], i))
names(fits) <- vapply(seq_along(models), function(i) models[[i]]$name %||% as.character(i), character(1))
kms <- lapply(seq_along(curves), function(i) fit_curves(curves[[i]], i))
names(kms) <- vapply(seq_along(curves), function(i) curves[[i]]$name %||% as.character(i), character(1))

out <- list(
  models = if (length(fits)) fits else structure(list(), names = character(0)),
  survfit = if (length(kms)) kms else structure(list(), names = character(0)),
  r_version = R.version.string,
  survival_version = as.character(utils::packageVersion("survival"))
)
jsonlite::write_json(out, file.path(dir, "out.json"), auto_unbox = TRUE, json_verbatim = TRUE, digits = NA, null = "null")
