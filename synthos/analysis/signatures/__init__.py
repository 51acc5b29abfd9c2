"""Signature library: fingerprints of datasets, their outcomes, and the pre-screen."""
