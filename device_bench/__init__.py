"""Accuracy and latency of converted artefacts on CPUs, Edge TPUs and GPUs; results database and reports."""
