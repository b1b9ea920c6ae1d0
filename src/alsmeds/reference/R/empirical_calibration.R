# OHDSI's EmpiricalCalibration on fixed control estimates: the reference for alsmeds.models.calibration.
#
# Usage: Rscript empirical_calibration.R <dir>
#
# Called by alsmeds.reference.calibration_controls.run_reference (through run_r_script), which writes
# <dir>/controls.csv (set, kind, name, true_log_rr, log_rr, se_log_rr; kind negative, positive or estimate)
# and <dir>/args.json:
#   library          the R library holding EmpiricalCalibration (not packaged by Debian: R CMD INSTALL -l)
#   mcmc_seed        set.seed() before fitMcmcNull
#   mcmc_iterations  fitMcmcNull(iter =)
#   estimate_sets    the sets whose rows are the estimates to calibrate (default "study")
#   source_commit    the package's source commit, recorded as given
#
# Every set with negative controls gets the package's
#   fitNull (empirical null: mean and sd; the package maximises the likelihood over (mean, precision =
#            1 / sd^2) with optim's Nelder-Mead from (0, 1), default tolerance), its negative log-likelihood
#            (the package's logLikelihoodNull), computeExpectedAbsoluteSystematicError (EASE),
#   calibrateP of the estimates (two-sided) and computeTraditionalP,
#   the leave-one-out calibrated p-values of the negative controls (the data behind plotCalibration),
#   fitMcmcNull (seeded; with its gamma(1e-4, 1e-4) prior on the precision), its posterior mode (the optim
#            that starts the chain), medians and 95% quantiles, calibrateP (median and 95% interval of the
#            p-value) and EASE;
# a set with positive controls also gets fitSystematicErrorModel (estimateCovarianceMatrix = TRUE) on its
# negative and positive controls, in the default form (legacy = FALSE: sd linear in |true log RR|) and the
# legacy form (log sd linear in the true log RR), and calibrateConfidenceInterval of the estimates with each,
# and with convertNullToErrorModel(null).
#
# Each result comes twice: "as_returned", the package's functions as they are, and "converged", the same
# functions (the package's own code, objectives and starting values) with the optimiser and the root finder
# run to convergence: optim is followed by Nelder-Mead restarts at reltol = 1e-15 from the last optimum until
# the objective stops decreasing, and uniroot is called with tol = 1e-13 (the package's calls use optim's
# reltol = 1e-8 and uniroot's default tol = 1.2e-4, which leave the optimum and the interval limits about
# 1e-4 off).  Their covariance matrices are optimHess at the optimum (ndeps = 1e-4).  "ci_tight_root"
# calibrates the intervals with the package's own (as returned) model and the tight root finder.
#
# <dir>/out.json: {r_version, package_version, package_date, source_commit, mcmc_seed, mcmc_iterations,
#   estimates: {name, log_rr, se_log_rr}, sets: {<set>: {...}}}; floats with 17 significant digits.

source(file.path(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))), "common.R"))

dir <- reference_dir("empirical_calibration.R")
args <- read_args(dir)
library_dir <- args$library %||% "build/R-lib"
.libPaths(c(library_dir, .libPaths()))
if (!requireNamespace("EmpiricalCalibration", lib.loc = library_dir, quietly = TRUE)) {
  stop(sprintf("EmpiricalCalibration is not installed in %s (R CMD INSTALL -l %s <source>)", library_dir, library_dir))
}
ns <- asNamespace("EmpiricalCalibration")
EC <- function(name) get(name, envir = ns)

controls <- utils::read.csv(file.path(dir, "controls.csv"), stringsAsFactors = FALSE)
estimate_sets <- unlist(args$estimate_sets %||% list("study"))
estimates <- controls[controls$set %in% estimate_sets, ]
mcmc_seed <- as.integer(args$mcmc_seed %||% 25L)
mcmc_iterations <- as.integer(args$mcmc_iterations %||% 100000L)

# The package's functions with the optimiser and root finder run to convergence (see the header).
tight <- new.env(parent = ns)
tight$optim <- function(par, fn, gr = NULL, ..., method = "Nelder-Mead", lower = -Inf, upper = Inf,
                        control = list(), hessian = FALSE) {
  fit <- stats::optim(par, fn, gr, ..., method = method, lower = lower, upper = upper, control = control)
  polish <- utils::modifyList(control, list(reltol = 1e-15, maxit = 100000L))
  for (i in seq_len(200L)) {
    again <- stats::optim(fit$par, fn, NULL, ..., method = "Nelder-Mead", control = polish)
    if (!(again$value < fit$value)) break
    fit <- again
  }
  if (hessian) {
    fit$hessian <- stats::optimHess(fit$par, fn, NULL, ...,
                                    control = utils::modifyList(control, list(ndeps = rep(1e-4, length(par)))))
  }
  fit
}
tight$uniroot <- function(f, interval, ...) stats::uniroot(f, interval, ..., tol = 1e-13, maxiter = 10000L)
converged <- function(name) {
  f <- EC(name)
  environment(f) <- tight
  f
}
fit_null_tight <- converged("fitNull")
fit_error_model_tight <- converged("fitSystematicErrorModel")
calibrate_ci_tight <- converged("calibrateConfidenceInterval")

quiet <- function(expr) suppressWarnings(suppressMessages(expr))

null_block <- function(null, neg) {
  mean <- as.numeric(null[1])
  sd <- as.numeric(null[2])
  list(
    mean = scalar17(mean),
    sd = scalar17(sd),
    precision = scalar17(1 / sd^2),
    neg_log_lik = scalar17(EC("logLikelihoodNull")(c(mean, 1 / sd^2), neg$log_rr, neg$se_log_rr)),
    ease = scalar17(EmpiricalCalibration::computeExpectedAbsoluteSystematicError(null))
  )
}

ci_block <- function(ci) {
  list(
    log_rr = num17(ci$logRr), lower = num17(ci$logLb95Rr), upper = num17(ci$logUb95Rr), se_log_rr = num17(ci$seLogRr)
  )
}

model_block <- function(model, neg_log_lik_fn, rows) {
  out <- list(
    coefficients = num17(stats::setNames(as.numeric(model), names(model))),
    neg_log_lik = scalar17(neg_log_lik_fn(as.numeric(model), rows$log_rr, rows$se_log_rr, rows$true_log_rr))
  )
  cov <- attr(model, "CovarianceMatrix")
  if (!is.null(cov)) {
    out$covariance <- lapply(seq_len(nrow(cov)), function(i) num17(cov[i, ]))
    out$lower <- num17(attr(model, "LB95CI"))
    out$upper <- num17(attr(model, "UB95CI"))
  }
  out
}

set_names <- unique(controls$set[controls$kind == "negative"])
sets <- list()
for (set_name in set_names) {
  neg <- controls[controls$set == set_name & controls$kind == "negative", ]
  pos <- controls[controls$set == set_name & controls$kind == "positive", ]
  block <- list(n_negative = nrow(neg), n_positive = nrow(pos), negative_names = as.list(neg$name))

  null <- EmpiricalCalibration::fitNull(neg$log_rr, neg$se_log_rr)
  null_tight <- fit_null_tight(neg$log_rr, neg$se_log_rr)
  block$null <- list(as_returned = null_block(null, neg), converged = null_block(null_tight, neg))
  block$calibrated_p <- list(
    traditional = num17(EmpiricalCalibration::computeTraditionalP(estimates$log_rr, estimates$se_log_rr)),
    as_returned = num17(EmpiricalCalibration::calibrateP(null, estimates$log_rr, estimates$se_log_rr)),
    converged = num17(EmpiricalCalibration::calibrateP(null_tight, estimates$log_rr, estimates$se_log_rr))
  )

  # Leave one out: the calibrated p-values plotCalibration draws (each control against the null of the others).
  plot <- quiet(EmpiricalCalibration::plotCalibration(neg$log_rr, neg$se_log_rr))
  drawn <- plot$data
  loo_as_returned <- drawn$x[drawn[["P-value calculation"]] == "Empirical"]
  loo_converged <- vapply(seq_len(nrow(neg)), function(i) {
    others <- fit_null_tight(neg$log_rr[-i], neg$se_log_rr[-i])
    EmpiricalCalibration::calibrateP(others, neg$log_rr[i], neg$se_log_rr[i])
  }, numeric(1))
  block$leave_one_out_p <- list(as_returned = num17(loo_as_returned), converged = num17(loo_converged))

  # MCMC (stored for information; a random stream): its deterministic start is the posterior mode.
  mode_fn <- function(optimiser) {
    fit <- optimiser(c(0, 1), EC("logLikelihoodNullMcmc"), logRr = neg$log_rr, seLogRr = neg$se_log_rr)
    list(mean = scalar17(fit$par[1]), precision = scalar17(fit$par[2]), neg_log_posterior = scalar17(fit$value))
  }
  set.seed(mcmc_seed)
  mcmc_null <- EmpiricalCalibration::fitMcmcNull(neg$log_rr, neg$se_log_rr, iter = mcmc_iterations)
  chain <- attr(mcmc_null, "mcmc")$chain
  mcmc_p <- EmpiricalCalibration::calibrateP(mcmc_null, estimates$log_rr, estimates$se_log_rr)
  mcmc_ease <- EmpiricalCalibration::computeExpectedAbsoluteSystematicError(mcmc_null)
  block$mcmc <- list(
    mode = list(as_returned = mode_fn(stats::optim), converged = mode_fn(tight$optim)),
    median_mean = scalar17(mcmc_null[1]),
    median_precision = scalar17(mcmc_null[2]),
    mean_quantiles = num17(stats::quantile(chain[, 1], c(0.025, 0.975), names = FALSE)),
    precision_quantiles = num17(stats::quantile(chain[, 2], c(0.025, 0.975), names = FALSE)),
    acceptance_rate = scalar17(mean(attr(mcmc_null, "mcmc")$acc)),
    p = num17(mcmc_p$p), p_lower = num17(mcmc_p$lb95ci), p_upper = num17(mcmc_p$ub95ci),
    ease = num17(unlist(mcmc_ease[1, c("ease", "ciLb", "ciUb")]))
  )

  # Confidence intervals from the null alone (mean slope 1, sd slope 0).
  block$null_error_model_ci <- list(
    as_returned = ci_block(EmpiricalCalibration::calibrateConfidenceInterval(
      estimates$log_rr, estimates$se_log_rr, EmpiricalCalibration::convertNullToErrorModel(null)
    )),
    converged = ci_block(calibrate_ci_tight(
      estimates$log_rr, estimates$se_log_rr, EmpiricalCalibration::convertNullToErrorModel(null_tight)
    ))
  )

  if (nrow(pos) > 0L) {
    rows <- rbind(neg, pos)
    models <- list()
    for (legacy in c(FALSE, TRUE)) {
      ll <- EC(if (legacy) "minLogLikelihoodErrorModelLegacy" else "minLogLikelihoodErrorModel")
      ll_fn <- function(theta, logRr, seLogRr, trueLogRr) ll(theta, logRr, seLogRr, trueLogRr)
      model <- quiet(EmpiricalCalibration::fitSystematicErrorModel(
        rows$log_rr, rows$se_log_rr, rows$true_log_rr, estimateCovarianceMatrix = TRUE, legacy = legacy
      ))
      model_tight <- quiet(fit_error_model_tight(
        rows$log_rr, rows$se_log_rr, rows$true_log_rr, estimateCovarianceMatrix = TRUE, legacy = legacy
      ))
      models[[if (legacy) "log_linear" else "linear"]] <- list(
        as_returned = model_block(model, ll_fn, rows),
        converged = model_block(model_tight, ll_fn, rows),
        ci = list(
          as_returned = ci_block(EmpiricalCalibration::calibrateConfidenceInterval(
            estimates$log_rr, estimates$se_log_rr, model
          )),
          tight_root = ci_block(calibrate_ci_tight(estimates$log_rr, estimates$se_log_rr, model)),
          converged = ci_block(calibrate_ci_tight(estimates$log_rr, estimates$se_log_rr, model_tight))
        )
      )
    }
    block$error_models <- models
  }
  sets[[set_name]] <- block
}

description <- utils::packageDescription("EmpiricalCalibration", lib.loc = library_dir)
out <- list(
  r_version = R.version.string,
  package_version = as.character(utils::packageVersion("EmpiricalCalibration", lib.loc = library_dir)),
  package_date = description$Date %||% "",
  source_commit = args$source_commit %||% "",
  mcmc_seed = mcmc_seed,
  mcmc_iterations = mcmc_iterations,
  estimates = list(name = as.list(estimates$name), log_rr = num17(estimates$log_rr),
                   se_log_rr = num17(estimates$se_log_rr)),
  sets = sets
)
jsonlite::write_json(out, file.path(dir, "out.json"), auto_unbox = TRUE, json_verbatim = TRUE, digits = NA, null = "null")
