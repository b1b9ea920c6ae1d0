# Reference accuracy scores of predicted risks with riskRegression::Score: time-dependent AUC and Brier score.
#
# Usage: Rscript score.R <dir>
#
# Called by alsmeds.reference.score.r_score (through alsmeds.reference.r.run_r_script("score", ...)),
# which writes the inputs as CSV into <dir> and reads <dir>/out.json back.
#
# <dir>/data.csv: columns time, status (0 censored, 1 event) and the predicted risks of every model (the risk of
#   an event by the horizon, one row per patient): one column per model, or one per model and horizon.
# <dir>/args.json:
#   models        array of {name, columns}: the risk columns of data.csv of each model, one column (the same
#                 risks at every horizon) or one per horizon, in the order of horizon
#   horizon       the time(s) at which the scores are computed (Score(times = horizon)); one R session
#                 scores several horizons
#   conservative  Score(conservative =): TRUE leaves the censoring term out of the standard errors
#                 (default FALSE)
#   null_model    also score the Kaplan-Meier null model (default TRUE)
#
# Score is called with formula Hist(time, status) ~ 1, metrics c("auc", "brier"), cens.model "km" (reverse
# Kaplan-Meier censoring weights), se.fit TRUE, and the numeric risks as the models.
#
# <dir>/out.json:
#   auc    [{model, horizon, estimate, se}]  (Score's AUC score table: AUC, se)
#   brier  [{model, horizon, estimate, se}]  (Brier, se; also the "Null model" rows when null_model is TRUE)
#   auc_contrasts, brier_contrasts   [{model, reference, horizon, estimate, se}]: Score's contrasts (delta =
#          model - reference, paired standard error) between the given models (the null model left out)
#   n, horizon, conservative, warnings, r_version, riskRegression_version, prodlim_version
# Floating-point numbers are written with 17 significant digits (jsonlite's digits = NA stops at 15).

source(file.path(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1L]]))), "common.R"))

dir <- reference_dir("score.R")
args <- read_args(dir)

suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(prodlim)
  library(jsonlite)
})

data <- utils::read.csv(file.path(dir, "data.csv"), check.names = FALSE)
specs <- args$models
if (length(specs) == 0L) stop("args.json: no models given")
models <- vapply(specs, function(m) as.character(m$name), character(1))
horizon <- as.numeric(unlist(args$horizon))
conservative <- isTRUE(args$conservative %||% FALSE)
null_model <- isTRUE(args$null_model %||% TRUE)

risks <- lapply(specs, function(m) {
  columns <- as.character(unlist(m$columns))
  absent <- setdiff(columns, names(data))
  if (length(absent) > 0L) stop(sprintf("column(s) not in data.csv: %s", paste(absent, collapse = ", ")))
  if (length(columns) == 1L) return(as.numeric(data[[columns]]))
  if (length(columns) != length(horizon)) stop(sprintf("model '%s': %d risk columns for %d horizons", m$name, length(columns), length(horizon)))
  as.matrix(data[, columns, drop = FALSE])
})
names(risks) <- models
frame <- data.frame(time = as.numeric(data$time), status = as.numeric(data$status))

scored <- fit_collecting_warnings(function() {
  Score(
    risks,
    formula = Hist(time, status) ~ 1,
    data = frame,
    times = horizon,
    metrics = c("auc", "brier"),
    cens.model = "km",
    se.fit = TRUE,
    conservative = conservative,
    null.model = null_model,
    contrasts = length(models) > 1L
  )
})
score <- scored$fit

table_of <- function(tab, column) {
  tab <- as.data.frame(tab)
  lapply(seq_len(nrow(tab)), function(i) {
    list(
      model = as.character(tab$model[[i]]),
      horizon = scalar17(tab$times[[i]]),
      estimate = scalar17(tab[[column]][[i]]),
      se = scalar17(tab[["se"]][[i]])
    )
  })
}

# Paired differences model - reference with their standard errors (every pair of the given models).
contrasts_of <- function(tab, column) {
  if (is.null(tab)) return(list())
  tab <- as.data.frame(tab)
  tab <- tab[as.character(tab$model) %in% models & as.character(tab$reference) %in% models, , drop = FALSE]
  lapply(seq_len(nrow(tab)), function(i) {
    list(
      model = as.character(tab$model[[i]]),
      reference = as.character(tab$reference[[i]]),
      horizon = scalar17(tab$times[[i]]),
      estimate = scalar17(tab[[column]][[i]]),
      se = scalar17(tab[["se"]][[i]])
    )
  })
}

out <- list(
  auc_contrasts = contrasts_of(score$AUC$contrasts, "delta.AUC"),
  brier_contrasts = contrasts_of(score$Brier$contrasts, "delta.Brier"),
  auc = table_of(score$AUC$score, "AUC"),
  brier = table_of(score$Brier$score, "Brier"),
  n = nrow(frame),
  horizon = num17(horizon),
  conservative = conservative,
  warnings = I(scored$warnings),
  r_version = R.version.string,
  riskRegression_version = as.character(utils::packageVersion("riskRegression")),
  prodlim_version = as.character(utils::packageVersion("prodlim"))
)
jsonlite::write_json(out, file.path(dir, "out.json"), auto_unbox = TRUE, json_verbatim = TRUE, digits = NA, null = "null")
