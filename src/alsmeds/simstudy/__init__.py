"""Simulation study (ADEMP) of the bundle's estimators."""
