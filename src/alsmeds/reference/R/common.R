# Helpers shared by the reference scripts (sourced by clogit.R, coxph.R and lme.R).
# Each script is run as `Rscript <script>.R <dir>`: inputs are CSV files and args.json in <dir>,
# and the script writes out.json there with numbers at full (17-digit) precision.

`%||%` <- function(a, b) if (is.null(a)) b else a

# The input folder (the one command-line argument) and its args.json.
reference_dir <- function(script) {
  argv <- commandArgs(trailingOnly = TRUE)
  if (length(argv) != 1L) stop(sprintf("usage: Rscript %s <dir>", script))
  argv[[1L]]
}
read_args <- function(dir) jsonlite::fromJSON(file.path(dir, "args.json"), simplifyVector = FALSE)

# A (named) numeric vector as JSON numbers with 17 significant digits (null for NA/NaN/Inf);
# jsonlite's own digits = NA writes only 15.
num17 <- function(x) {
  text <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  out <- lapply(unname(text), function(v) structure(v, class = "json"))
  if (!is.null(names(x))) names(out) <- names(x)
  out
}
scalar17 <- function(x) num17(as.numeric(x))[[1L]]

# Run fit_once() once, collecting (not printing) its warnings: list(fit = ..., warnings = character()).
fit_collecting_warnings <- function(fit_once) {
  warned <- character(0)
  fit <- withCallingHandlers(fit_once(), warning = function(w) {
    warned <<- c(warned, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(fit = fit, warnings = warned)
}

# Time `runs` more calls of fit_once() inside R (no start-up): NULL when runs is 0.
fit_timing <- function(fit_once, runs) {
  runs <- as.integer(runs %||% 0L)
  if (runs <= 0L) return(NULL)
  elapsed <- vapply(seq_len(runs), function(i) {
    suppressWarnings(system.time(fit_once(), gcFirst = FALSE)[["elapsed"]])
  }, numeric(1))
  list(runs = runs, median_seconds = scalar17(stats::median(elapsed)), seconds = num17(elapsed))
}
