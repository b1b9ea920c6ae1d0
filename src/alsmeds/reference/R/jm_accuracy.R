# JM's own prospective-accuracy numbers for the dynamic predictions of the PBC joint model (issue 24,
# "anchor for the scores": the second anchor beside riskRegression::Score): R JM's aucJM() and
# prederrJM() at three landmarks, and the per-patient predicted survival they are computed from
# (survfitJM(), first-order estimate), stored as JSON for tests/test_joint_jm_accuracy.py.
#
# Rerun (from anywhere; paths are relative to the repository root, found from this script's place):
#
#   1. JM is not packaged for Debian and is installed into a PRIVATE library, build/R-lib (not tracked):
#      see the top of jm_parameterizations.R (github cran/JM, commit f00e607, version 1.5-2;
#      R CMD INSTALL -l build/R-lib <source>).  The script puts build/R-lib (or $JM_R_LIB when set)
#      first on .libPaths(); it never installs.
#   2. Rscript src/alsmeds/reference/R/jm_accuracy.R
#      reads tests/data/pbcseq.csv and writes tests/data/jm_pbc_accuracy.json.  About 65 s on 2 cores
#      (committed run: 63 s in all; the fit 35 s at 15 x 15 nodes, aucJM and the two prederrJM calls
#      5-6 s a landmark, the separate survfitJM calls as long again).
#   Options (key=value): out=<file>, nodes=15 (GHk), landmarks=3,5,7 (Tstart, years), window=2 (Dt, years).
#   The committed file was written with the defaults.
#
# The model: the PBC model of jm_parameterizations.R (and tests/test_joint_model.py), association
# "value" only: lme(log(bili) ~ drug * year, random = ~ year | id) (REML, lme's default),
# coxph(Surv(years, status2) ~ drug, x = TRUE), jointModel(timeVar = "year", method = "weibull-PH-aGH",
# control = list(GHk = 15)); JM's 15- and 21-node fits of this model agree within 0.003 SE and 0.004
# log-likelihood units (tests/data/jm_pbc_parameterizations.json), so 15 nodes are converged.  The
# newdata of the accuracy functions is the long frame with the survival columns on every row (JM's
# pbc2): id, year, bili, drug, years, status2, sorted by id and year.
#
# What JM 1.5-2 computes (read from its source, R/survfitJM.jointModel.R, S.b.R, log.posterior.b.R,
# aucJM.jointModel.R, prederrJM.jointModel.R; described here in our words):
#
#   survfitJM(fit, newdata, survTimes = u, last.time = t, simulate = FALSE), patient by patient:
#     b_hat = the mode of log p(y | b) + log N(b; 0, D) + log S(t | b), found by optim(BFGS) from b = 0,
#             where y are the patient's rows in newdata (whatever their times: the callers below
#             pass only the visits up to Tstart) and S(t | b) = exp(-H(t | b)) with H by JM's
#             15-point Gauss-Kronrod rule on [0, t] (the hazard h0(v) exp(gamma drug + alpha m(v | b)),
#             Weibull h0);
#     predSurv = S(u | b_hat) / S(t | b_hat): the first-order (empirical Bayes, plug-in) estimate of
#             P(T > u | T > t, y), at the MLE, NOT the posterior average E[S(u | b) / S(t | b)] over
#             p(b | T > t, y) that alsmeds' dynamic_risks computes.  Default t (last.time = NULL): the
#             time of the patient's last row in newdata, not the landmark.
#
#   aucJM(fit, newdata, Tstart, Dt): Thoriz = Tstart + Dt + 1e-7.  The patients with event time Time > Tstart,
#     their rows with year <= Tstart, sorted by Time (ties kept in data order; a Time equal to the one
#     before it gets + 1e-7).  p_i = predSurv at Thoriz with the DEFAULT last.time, the last visit
#     up to Tstart (not Tstart).  Every pair (i, j) with i before j in that order (one direction only)
#     gets a weight w_ij:
#       1                        i an event by Thoriz, j beyond Thoriz (Time_j > Thoriz, either status);
#       1 - P_i(Thoriz | Time_i) i censored by Thoriz, j beyond Thoriz;
#       P_j(Thoriz | Time_j)     i an event by Thoriz, j censored by Thoriz (so after i);
#       (1 - P_i(Thoriz | Time_i)) P_j(Thoriz | Time_j)  both censored by Thoriz;
#       0 otherwise,
#     with P_k(Thoriz | Time_k) = predSurv at Thoriz with last.time = Time_k (the visits still up to
#     Tstart): the model's own probability that a patient censored inside the window was still
#     event-free at Thoriz.  AUC = sum_ij w_ij I(p_i < p_j) / sum_ij w_ij (a tie counts 0).  So the
#     patients censored inside the window are imputed by the fitted model, not re-weighted by a
#     censoring distribution: NOT an inverse-probability-of-censoring-weighted (IPCW) estimator; it is
#     consistent when the joint model is correct, the IPCW one when censoring is independent.  (Pairs
#     with j censored by Thoriz before an i censored by Thoriz count only with i as the case.)
#
#   prederrJM(fit, newdata, Tstart, Thoriz, lossFun): the patients with Time > Tstart (nr of them), their rows
#     with year <= Tstart; S_i = predSurv at Thoriz with last.time = Tstart (the landmark), and for a
#     patient censored before Thoriz (Time < Thoriz, status 0) also w_i = predSurv at Thoriz with
#     last.time = Time_i.  Expected loss
#       PE = (1 / nr) [ sum_{Time > Thoriz} L(1 - S_i) + sum_{event by Thoriz} L(0 - S_i)
#                       + sum_{censored before Thoriz} (w_i L(1 - S_i) + (1 - w_i) L(0 - S_i)) ],
#     L(x) = |x| (lossFun = "absolute", JM's default) or x^2 ("square": the Brier score of the risk
#     1 - S_i).  Again the censored patients' status at Thoriz is imputed by the model (Henderson,
#     Diggle and Dobson 2002), not re-weighted: NOT an IPCW estimator.
#
# Output (JSON, numbers with 17 significant digits): versions, the data (file, MD5, counts), the model,
# "fit" (estimates and se under alsmeds' names, JM's own names, variance components, loglik, GHk,
# GKk, convergence, seconds), and "landmarks": one entry per Tstart with
#   Tstart, Dt, Thoriz (= Tstart + Dt, prederrJM's), Thoriz_auc (aucJM's, + 1e-7), n_at_risk,
#   n_events, n_censored (inside the window), auc (aucJM), prederr_square and prederr_absolute
#   (prederrJM), nr (prederrJM's), seconds (the three calls), and "patients", in aucJM's order:
#     id, time (years), time_auc (aucJM's, after its + 1e-7 on tied times), event, last_visit,
#     surv_auc          predSurv at Thoriz_auc, last.time default (last visit): aucJM's p_i
#     surv_landmark     predSurv at Thoriz, last.time = Tstart: prederrJM's S_i
#     surv_cens_auc     predSurv at Thoriz_auc, last.time = time_auc (patients censored by Thoriz_auc;
#                       else null): aucJM's P_k(Thoriz | Time_k)
#     surv_cens_prederr predSurv at Thoriz, last.time = time (censored before Thoriz; else null): prederrJM's w_i
#   These are computed by separate survfitJM() calls on the same rows as aucJM's and prederrJM's own
#   (survfitJM treats each patient on its own, from the same starting point, so the numbers are
#   those the two functions used); the test recomputes AUC and PE from them.

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
started <- proc.time()[["elapsed"]]

# --------------------------------------------------------------------------- arguments

opts <- list()
for (a in commandArgs(trailingOnly = TRUE)) {
  kv <- strsplit(a, "=", fixed = TRUE)[[1L]]
  if (length(kv) != 2L) stop(sprintf("option %s: expected key=value", a))
  opts[[kv[[1L]]]] <- kv[[2L]]
}
out_file <- opts$out %||% file.path(repo, "tests", "data", "jm_pbc_accuracy.json")
nodes <- as.integer(opts$nodes %||% "15")
landmarks <- as.numeric(strsplit(opts$landmarks %||% "3,5,7", ",", fixed = TRUE)[[1L]])
window <- as.numeric(opts$window %||% "2")

# --------------------------------------------------------------------------- data and model

data_file <- file.path(repo, "tests", "data", "pbcseq.csv")
raw <- utils::read.csv(data_file)
raw <- raw[order(raw$id, raw$day), ]
long <- data.frame(
  id = raw$id, year = raw$day / 365.24, bili = raw$bili, drug = as.numeric(raw$trt == 1),
  years = raw$futime / 365.24, status2 = as.numeric(raw$status == 2)
)
surv <- long[!duplicated(long$id), c("id", "years", "status2", "drug")]
rownames(long) <- NULL
rownames(surv) <- NULL

lme_fit <- nlme::lme(log(bili) ~ drug * year, random = ~ year | id, data = long)
cox_fit <- survival::coxph(Surv(years, status2) ~ drug, data = surv, x = TRUE)
warned <- character(0)
timing <- system.time(
  fit <- withCallingHandlers(
    JM::jointModel(lme_fit, cox_fit, timeVar = "year", method = "weibull-PH-aGH", control = list(GHk = nodes)),
    warning = function(w) {
      warned <<- c(warned, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  ),
  gcFirst = TRUE
)
message(sprintf("fit GHk = %d: logLik %.4f, convergence %d, %.1f s", fit$control$GHk, as.numeric(logLik(fit)),
                fit$convergence, timing[["elapsed"]]))

long_name <- function(x) paste0("long:", ifelse(x == "(Intercept)", "Intercept", x))
event_name <- function(x) {
  vapply(x, function(n) switch(n,
    "(Intercept)" = "baseline:log_scale",
    "log(shape)" = "baseline:log_shape",
    "Assoct" = "alpha",
    paste0("surv:", n)
  ), character(1), USE.NAMES = FALSE)
}
s <- summary(fit)
tl <- s$`CoefTable-Long`
te <- s$`CoefTable-Event`
D <- s$D
fit_out <- list(
  parameterization = fit$parameterization,
  GHk = fit$control$GHk,
  GKk = fit$control$GKk,
  estimates = num17(c(stats::setNames(tl[, "Value"], long_name(rownames(tl))), stats::setNames(te[, "Value"], event_name(rownames(te))))),
  se = num17(c(stats::setNames(tl[, "Std.Err"], long_name(rownames(tl))), stats::setNames(te[, "Std.Err"], event_name(rownames(te))))),
  jm_estimates = list(
    longitudinal = num17(stats::setNames(tl[, "Value"], rownames(tl))),
    event = num17(stats::setNames(te[, "Value"], rownames(te)))
  ),
  variance_components = num17(c(
    sigma = s$sigma,
    sd_intercept = sqrt(D[1, 1]),
    sd_slope = sqrt(D[2, 2]),
    corr_intercept_slope = D[1, 2] / sqrt(D[1, 1] * D[2, 2])
  )),
  loglik = scalar17(logLik(fit)),
  convergence = fit$convergence,
  seconds = scalar17(timing[["elapsed"]]),
  warnings = as.list(warned)
)

# --------------------------------------------------------------------------- accuracy at each landmark

# predSurv at survTimes = u of survfitJM(simulate = FALSE) for the patients of `rows` (named by id, in
# the order of their first row); last.time as survfitJM takes it (NULL: each patient's last row).
pred_surv <- function(rows, u, last_time = NULL) {
  sf <- JM::survfitJM(fit, newdata = rows, idVar = "id", survTimes = u, last.time = last_time, simulate = FALSE)
  vapply(sf$summaries, function(m) m[1L, "predSurv"], numeric(1))
}

one_landmark <- function(t_start) {
  t_horiz <- t_start + window
  t_auc <- t_horiz + 1e-07 # aucJM's own Thoriz
  timing <- system.time({
    auc <- JM::aucJM(fit, newdata = long, Tstart = t_start, Dt = window)$auc
    pe_square <- JM::prederrJM(fit, newdata = long, Tstart = t_start, Thoriz = t_horiz, lossFun = "square")
    pe_absolute <- JM::prederrJM(fit, newdata = long, Tstart = t_start, Thoriz = t_horiz, lossFun = "absolute")
  })
  # aucJM's rows: patients with Time > Tstart, sorted by Time (stable), their visits up to Tstart.
  rows <- long[order(long$years), ]
  rows <- rows[rows$years > t_start & rows$year <= t_start, ]
  first <- rows[!duplicated(rows$id), ]
  ids <- as.character(first$id)
  time_auc <- stats::setNames(first$years, ids)
  dupl <- duplicated(time_auc)
  time_auc[dupl] <- time_auc[dupl] + 1e-07
  event <- stats::setNames(first$status2, ids)
  last_visit <- tapply(rows$year, factor(rows$id, levels = unique(rows$id)), max)[ids]

  surv_auc <- pred_surv(rows, t_auc)[ids]
  surv_landmark <- pred_surv(rows, t_horiz, rep(t_start, length(ids)))[ids]
  # Censored inside the window, as each function defines it.
  cens_auc <- ids[time_auc <= t_auc & event == 0]
  cens_pe <- ids[first$years < t_horiz & event == 0]
  surv_cens_auc <- stats::setNames(rep(NA_real_, length(ids)), ids)
  surv_cens_pe <- surv_cens_auc
  if (length(cens_auc)) {
    r <- rows[as.character(rows$id) %in% cens_auc, ]
    k <- unique(as.character(r$id))
    surv_cens_auc[k] <- pred_surv(r, t_auc, unname(time_auc[k]))[k]
  }
  if (length(cens_pe)) {
    r <- rows[as.character(rows$id) %in% cens_pe, ]
    k <- unique(as.character(r$id))
    surv_cens_pe[k] <- pred_surv(r, t_horiz, unname(setNames(first$years, ids)[k]))[k]
  }
  message(sprintf(
    "Tstart %g: %d at risk, %d events and %d censored in the window; aucJM %.4f, prederrJM %.4f (square) %.4f (absolute), %.1f s",
    t_start, length(ids), sum(first$years <= t_horiz & event == 1), length(cens_pe), auc, pe_square$prederr,
    pe_absolute$prederr, timing[["elapsed"]]
  ))
  list(
    Tstart = t_start,
    Dt = window,
    Thoriz = t_horiz,
    Thoriz_auc = scalar17(t_auc),
    n_at_risk = length(ids),
    n_events = sum(first$years <= t_horiz & event == 1),
    n_censored = length(cens_pe),
    auc = scalar17(auc),
    prederr_square = scalar17(pe_square$prederr),
    prederr_absolute = scalar17(pe_absolute$prederr),
    nr = pe_square$nr,
    seconds = scalar17(timing[["elapsed"]]),
    patients = list(
      id = as.integer(ids),
      time = num17(first$years),
      time_auc = num17(unname(time_auc)),
      event = as.integer(event),
      last_visit = num17(unname(last_visit)),
      surv_auc = num17(unname(surv_auc)),
      surv_landmark = num17(unname(surv_landmark)),
      surv_cens_auc = num17(unname(surv_cens_auc)),
      surv_cens_prederr = num17(unname(surv_cens_pe))
    )
  )
}

results <- lapply(landmarks, one_landmark)

out <- list(
  description = paste(
    "R JM's aucJM() and prederrJM() for the PBC joint model (value association, weibull-PH-aGH) at",
    "landmarks Tstart with window Dt, and the per-patient first-order predicted survival (survfitJM,",
    "simulate = FALSE) they are computed from; written by src/alsmeds/reference/R/jm_accuracy.R",
    "(what each function computes and how to rerun: see the top of that script)"
  ),
  jm_version = utils::packageDescription("JM")$Version,
  jm_published = utils::packageDescription("JM")$`Date/Publication`,
  r_version = R.version.string,
  nlme_version = as.character(utils::packageVersion("nlme")),
  survival_version = as.character(utils::packageVersion("survival")),
  data = list(
    file = "tests/data/pbcseq.csv",
    md5 = unname(tools::md5sum(data_file)),
    n_obs = nrow(long),
    n_patients = nrow(surv),
    n_events = sum(surv$status2)
  ),
  model = list(
    lme = "log(bili) ~ drug * year",
    random = "~year | id",
    coxph = "Surv(years, status2) ~ drug",
    time_var = "year",
    method = "weibull-PH-aGH",
    lme_method = lme_fit$method
  ),
  fit = fit_out,
  landmarks = results,
  seconds = scalar17(proc.time()[["elapsed"]] - started)
)
dir.create(dirname(out_file), showWarnings = FALSE, recursive = TRUE)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE, digits = NA, null = "null"), out_file)
message(sprintf("wrote %s (%.0f s)", out_file, proc.time()[["elapsed"]] - started))
