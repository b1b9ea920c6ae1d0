# JM's numbers for the three association structures of the shared-parameter joint model (issue 24):
# the hazard in the current value of the marker ("value"), in its current slope ("slope") or in both
# ("both"), fitted by R JM (Rizopoulos) with method = "weibull-PH-aGH", at JM's default number of
# Gauss-Hermite nodes and at more nodes, stored as JSON for tests/test_joint_jm_anchors.py.
#
# Rerun (from anywhere; paths are relative to the repository root, found from this script's place):
#
#   1. JM is not packaged for Debian and is installed into a PRIVATE library, build/R-lib (not tracked):
#        apt-get install -y --no-install-recommends r-cran-mass     # JM's dependencies MASS, nlme,
#                                                                    # survival (splines is base R)
#        git clone https://github.com/cran/JM <dir>       # CRAN's GitHub mirror; commit f00e607
#        mkdir -p build/JM-src && git --git-dir=<dir>/.git archive f00e607 | tar -x -C build/JM-src
#        R CMD INSTALL -l build/R-lib build/JM-src
#      The script puts build/R-lib (or $JM_R_LIB when set) first on .libPaths(); it never installs.
#   2. PBC (6-10 minutes on 2 cores, mostly the 21-node fits; JM's default 5 nodes: 3 s a fit):
#        Rscript src/alsmeds/reference/R/jm_parameterizations.R pbc
#      reads tests/data/pbcseq.csv and writes tests/data/jm_pbc_parameterizations.json.
#   3. The committed ALS study (about 40 minutes: JM takes 3-4 minutes a fit at 15 x 15 nodes, 7-10 at
#      21 x 21, 10 s at its default 3):
#        .venv/bin/python -m alsmeds.reference.jm_export build/jm_als     # long.csv, surv.csv
#        Rscript src/alsmeds/reference/R/jm_parameterizations.R als
#      reads build/jm_als/{long,surv}.csv and writes tests/data/jm_als_parameterizations.json.
#   Options (key=value after the data set): input=<dir> (als), out=<file>, nodes=default,15,21
#   (GHk values; "default" is JM's own rule: 5 nodes per random effect below 2,000 longitudinal
#   rows, 3 from there on, for the pseudo-adaptive rule), parameterizations=value,slope,both; the
#   committed files were written with the defaults (all three parameterizations, default,15,21).
#
# The models (the same data and model as tests/test_joint_model.py and alsmeds.models.joint.prognosis):
#   PBC  JM's pbc2 from survival::pbcseq: year = day / 365.24, years = futime / 365.24,
#        drug = 1 for D-penicillamine (trt == 1), status2 = 1 for death (status == 2; transplantation
#        censors).
#          lme(log(bili) ~ drug * year, random = ~ year | id)      (REML, lme's default, as in JM's
#                  examples: JM takes from it only starting values and, for the pseudo-adaptive rule,
#                  the centres (empirical-Bayes random effects) and scales of its nodes)
#          coxph(Surv(years, status2) ~ drug, x = TRUE)
#          jointModel(timeVar = "year", method = "weibull-PH-aGH", parameterization = ...)
#        Current slope: m_i'(t) = beta_year + beta_drug:year drug + b1_i, so
#          derivForm = list(fixed = ~ 1 + drug, indFixed = c(3, 4), random = ~ 1, indRandom = 2)
#        (indFixed: the positions of year and drug:year among lme's fixed effects; man/jointModel.Rd,
#        the aids example, has the same form).
#   ALS  the committed study's joint frames (alsmeds Study.from_parameters().joint_data), months since
#        diagnosis, the model AlsJointModel fits:
#          lme(score ~ anxiolytics + hypnotics + antidepressants + age_per_decade + male + bulbar
#                      + months + anxiolytics:months + hypnotics:months + antidepressants:months,
#              random = ~ months | person_id)
#          coxph(Surv(time_months, event) ~ anxiolytics + hypnotics + antidepressants
#                                           + age_per_decade + male + bulbar, x = TRUE)
#          derivForm = list(fixed = ~ 1 + anxiolytics + hypnotics + antidepressants,
#                           indFixed = <positions of months and the three <class>:months>,
#                           random = ~ 1, indRandom = 2)
#   JM's other settings are its defaults (GKk = 15 Gauss-Kronrod points for the Weibull cumulative
#   hazard, in t; 50 EM then quasi-Newton iterations, its tolerances).
#
# Output (JSON, numbers with 17 significant digits): versions (JM, R, nlme, survival), the data
# (files relative to the repository, their MD5 sums, rows, patients, events), the model calls, and
# "fits": one entry per parameterization and node count with
#   parameterization, GHk, GHk_rule ("JM default" or "set"), GKk,
#   estimates, se           named with alsmeds' parameter names (long:<term>, surv:<covariate>,
#                           alpha (current value), alpha_slope (current slope), baseline:log_scale,
#                           baseline:log_shape); se = JM's summary() standard errors
#   jm_estimates, jm_se     the same numbers under JM's own names (summary tables "Long"/"Event")
#   variance_components     sigma, sd_intercept, sd_slope, corr_intercept_slope (JM gives no SEs)
#   loglik                  logLik() of the fit (all constants; JM prints it to 3 decimals)
#   convergence             JM's convergence code (0: converged), iterations
#   seconds, cpu_seconds    elapsed and CPU (user + system) time of the jointModel() call alone (the lme
#                           and coxph fits excluded; the elapsed time depends on the machine's load)
#   warnings                warnings raised during the fit

script_file <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))
script_dir <- dirname(script_file)
source(file.path(script_dir, "common.R"))
repo <- normalizePath(file.path(script_dir, "..", "..", "..", ".."))

lib <- Sys.getenv("JM_R_LIB", file.path(repo, "build", "R-lib"))
if (!dir.exists(lib)) stop(sprintf("no private R library %s: install JM there first (see the top of %s)", lib, script_file))
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages({
  library(JM)
  library(jsonlite)
})

# --------------------------------------------------------------------------- arguments

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) < 1L || !argv[[1L]] %in% c("pbc", "als")) {
  stop("usage: Rscript jm_parameterizations.R pbc|als [input=<dir>] [out=<file>] [nodes=default,15]")
}
dataset <- argv[[1L]]
opts <- list()
for (a in argv[-1L]) {
  kv <- strsplit(a, "=", fixed = TRUE)[[1L]]
  if (length(kv) != 2L) stop(sprintf("option %s: expected key=value", a))
  opts[[kv[[1L]]]] <- kv[[2L]]
}
out_file <- opts$out %||% file.path(repo, "tests", "data", sprintf("jm_%s_parameterizations.json", dataset))
node_text <- strsplit(opts$nodes %||% "default,15,21", ",", fixed = TRUE)[[1L]]
parameterizations <- strsplit(opts$parameterizations %||% "value,slope,both", ",", fixed = TRUE)[[1L]]

# --------------------------------------------------------------------------- data and model

if (dataset == "pbc") {
  data_file <- file.path(repo, "tests", "data", "pbcseq.csv")
  raw <- utils::read.csv(data_file)
  raw <- raw[order(raw$id, raw$day), ]
  long <- data.frame(id = raw$id, year = raw$day / 365.24, bili = raw$bili, drug = as.numeric(raw$trt == 1))
  first <- raw[!duplicated(raw$id), ]
  surv <- data.frame(
    id = first$id, years = first$futime / 365.24, status2 = as.numeric(first$status == 2),
    drug = as.numeric(first$trt == 1)
  )
  time_var <- "year"
  lme_fixed <- log(bili) ~ drug * year
  lme_random <- ~ year | id
  cox_formula <- Surv(years, status2) ~ drug
  slope_covariates <- "drug"
  n_events <- sum(surv$status2)
  data_files <- data_file
} else {
  input <- opts$input %||% file.path(repo, "build", "jm_als")
  long <- utils::read.csv(file.path(input, "long.csv"))
  surv <- utils::read.csv(file.path(input, "surv.csv"))
  long <- long[order(long$person_id, long$months), ]
  surv <- surv[order(surv$person_id), ]
  time_var <- "months"
  classes <- c("anxiolytics", "hypnotics", "antidepressants")
  covariates <- c("age_per_decade", "male", "bulbar")
  lme_fixed <- stats::as.formula(paste(
    "score ~", paste(c(classes, covariates, "months", paste0(classes, ":months")), collapse = " + ")
  ))
  lme_random <- ~ months | person_id
  cox_formula <- stats::as.formula(paste("Surv(time_months, event) ~", paste(c(classes, covariates), collapse = " + ")))
  slope_covariates <- classes
  n_events <- sum(surv$event)
  data_files <- c(file.path(input, "long.csv"), file.path(input, "surv.csv"))
}
if (!identical(unique(long[[names(long)[1L]]]), surv[[names(surv)[1L]]])) stop("the two frames do not hold the same patients in the same order")

lme_fit <- nlme::lme(lme_fixed, random = lme_random, data = long)
cox_fit <- survival::coxph(cox_formula, data = surv, x = TRUE)
fixed_names <- names(nlme::fixef(lme_fit))
slope_terms <- c(time_var, paste0(slope_covariates, ":", time_var))
ind_fixed <- match(slope_terms, fixed_names)
if (anyNA(ind_fixed)) stop(sprintf("slope terms not among lme's fixed effects: %s", paste(slope_terms[is.na(ind_fixed)], collapse = ", ")))
deriv_form <- list(
  fixed = stats::as.formula(paste("~", paste(c("1", slope_covariates), collapse = " + "))),
  indFixed = ind_fixed,
  random = ~ 1,
  indRandom = 2L
)

# JM's names -> alsmeds' names.
long_name <- function(x) paste0("long:", ifelse(x == "(Intercept)", "Intercept", x))
event_name <- function(x) {
  vapply(x, function(n) switch(n,
    "(Intercept)" = "baseline:log_scale",
    "log(shape)" = "baseline:log_shape",
    "Assoct" = "alpha",
    "Assoct.s" = "alpha_slope",
    paste0("surv:", n)
  ), character(1), USE.NAMES = FALSE)
}

fit_one <- function(parameterization, nodes) {
  args <- list(lme_fit, cox_fit, timeVar = time_var, method = "weibull-PH-aGH", parameterization = parameterization)
  if (parameterization != "value") args$derivForm <- deriv_form
  if (nodes != "default") args$control <- list(GHk = as.integer(nodes))
  warned <- character(0)
  timing <- system.time(
    fit <- withCallingHandlers(do.call(JM::jointModel, args), warning = function(w) {
      warned <<- c(warned, conditionMessage(w))
      invokeRestart("muffleWarning")
    }),
    gcFirst = TRUE
  )
  elapsed <- timing[["elapsed"]]
  cpu <- timing[["user.self"]] + timing[["sys.self"]]
  s <- summary(fit)
  tl <- s$`CoefTable-Long`
  te <- s$`CoefTable-Event`
  est <- c(stats::setNames(tl[, "Value"], long_name(rownames(tl))), stats::setNames(te[, "Value"], event_name(rownames(te))))
  se <- c(stats::setNames(tl[, "Std.Err"], long_name(rownames(tl))), stats::setNames(te[, "Std.Err"], event_name(rownames(te))))
  D <- s$D
  message(sprintf(
    "%s %s GHk = %d: logLik %.4f, convergence %d, %.1f s", dataset, parameterization, fit$control$GHk,
    as.numeric(logLik(fit)), fit$convergence, elapsed
  ))
  list(
    parameterization = parameterization,
    GHk = fit$control$GHk,
    GHk_rule = if (nodes == "default") "JM default" else "set",
    GKk = fit$control$GKk,
    estimates = num17(est),
    se = num17(se),
    jm_estimates = list(
      longitudinal = num17(stats::setNames(tl[, "Value"], rownames(tl))),
      event = num17(stats::setNames(te[, "Value"], rownames(te)))
    ),
    jm_se = list(
      longitudinal = num17(stats::setNames(tl[, "Std.Err"], rownames(tl))),
      event = num17(stats::setNames(te[, "Std.Err"], rownames(te)))
    ),
    variance_components = num17(c(
      sigma = s$sigma,
      sd_intercept = sqrt(D[1, 1]),
      sd_slope = sqrt(D[2, 2]),
      corr_intercept_slope = D[1, 2] / sqrt(D[1, 1] * D[2, 2])
    )),
    loglik = scalar17(logLik(fit)),
    n_parameters = attr(logLik(fit), "df"),
    convergence = fit$convergence,
    iterations = as.list(fit$iters),
    seconds = scalar17(elapsed),
    cpu_seconds = scalar17(cpu),
    warnings = as.list(warned)
  )
}

relative <- function(path) {
  path <- normalizePath(path)
  ifelse(startsWith(path, paste0(repo, "/")), substring(path, nchar(repo) + 2L), path)
}

fits <- list()
for (p in parameterizations) for (q in node_text) fits[[length(fits) + 1L]] <- fit_one(p, q)

out <- list(
  description = paste(
    "R JM's fits of the shared-parameter joint model with the hazard in the current value of the marker",
    "(value), its current slope (slope) or both, weibull-PH-aGH, at JM's default and at more Gauss-Hermite",
    "nodes; written by src/alsmeds/reference/R/jm_parameterizations.R (rerun: see the top of that script)"
  ),
  dataset = dataset,
  jm_version = utils::packageDescription("JM")$Version,
  jm_published = utils::packageDescription("JM")$`Date/Publication`,
  jm_library = relative(find.package("JM")),
  r_version = R.version.string,
  nlme_version = as.character(utils::packageVersion("nlme")),
  survival_version = as.character(utils::packageVersion("survival")),
  data = list(
    files = as.list(relative(data_files)),
    md5 = as.list(stats::setNames(unname(tools::md5sum(data_files)), basename(data_files))),
    n_obs = nrow(long),
    n_patients = nrow(surv),
    n_events = n_events
  ),
  model = list(
    lme = paste(deparse(lme_fixed, width.cutoff = 500L), collapse = " "),
    random = paste(deparse(lme_random), collapse = " "),
    coxph = paste(deparse(cox_formula, width.cutoff = 500L), collapse = " "),
    time_var = time_var,
    method = "weibull-PH-aGH",
    derivForm = list(
      fixed = paste(deparse(deriv_form$fixed), collapse = " "),
      indFixed = as.list(deriv_form$indFixed),
      indFixed_terms = as.list(slope_terms),
      random = "~1",
      indRandom = deriv_form$indRandom
    ),
    lme_method = lme_fit$method
  ),
  fits = fits
)
dir.create(dirname(out_file), showWarnings = FALSE, recursive = TRUE)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE, digits = NA, null = "null"), out_file)
message(sprintf("wrote %s", out_file))
